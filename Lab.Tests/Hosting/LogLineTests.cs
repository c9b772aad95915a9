using Lab.Hosting;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Hosting;

/// <summary>The one log line format every program shares: timestamp, level, short category, message.</summary>
[Parallelizable(ParallelScope.All)]
public class LogLineTests
{
    private static readonly DateTimeOffset Time = new(2026, 11, 25, 19, 30, 1, 123, TimeSpan.Zero);

    [TestCase(LogLevel.Trace, "TRACE")]
    [TestCase(LogLevel.Debug, "DEBUG")]
    [TestCase(LogLevel.Information, "INFO ")]
    [TestCase(LogLevel.Warning, "WARN ")]
    [TestCase(LogLevel.Error, "ERROR")]
    [TestCase(LogLevel.Critical, "FATAL")]
    public void Line_is_timestamp_fixed_width_level_short_category_and_message(LogLevel level, string name)
    {
        LogLine.Format(Time, level, "Lab.Server.TcpServer", "Server listening on 127.0.0.1:8089", null)
            .ShouldBe($"2026-11-25 19:30:01.123 {name} TcpServer: Server listening on 127.0.0.1:8089");
    }

    [Test]
    public void Categories_outside_the_lab_keep_their_full_name()
    {
        LogLine.Format(Time, LogLevel.Warning, "Microsoft.AspNetCore.Server.Kestrel", "m", null)
            .ShouldBe("2026-11-25 19:30:01.123 WARN  Microsoft.AspNetCore.Server.Kestrel: m");
    }

    [Test]
    public void Exception_adds_its_type_and_message_on_the_same_line_without_a_stack_trace()
    {
        Exception error;
        try
        {
            throw new InvalidOperationException("boom");
        }
        catch (InvalidOperationException ex)
        {
            error = ex;
        }

        LogLine.Format(Time, LogLevel.Error, "Lab.Registry.HealthChecker", "Health check failed", error)
            .ShouldBe("2026-11-25 19:30:01.123 ERROR HealthChecker: Health check failed (InvalidOperationException: boom)");
    }

    [Test]
    public void Multi_line_message_is_folded_into_one_line()
    {
        LogLine.Format(Time, LogLevel.Information, "Lab.X", "first\nsecond\r\nthird", null)
            .ShouldBe("2026-11-25 19:30:01.123 INFO  X: first | second | third");
    }
}
