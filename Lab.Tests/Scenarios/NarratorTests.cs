using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;
using Microsoft.Extensions.Time.Testing;

namespace Lab.Tests.Scenarios;

public class NarratorTests
{
    [Test]
    public void Lines_carry_the_time_since_the_scenario_started()
    {
        var time = new FakeTimeProvider();
        using var output = new StringWriter();
        var narrator = new Narrator(output, time);

        narrator.Step("started registry");
        time.Advance(TimeSpan.FromSeconds(1.25));
        narrator.Check(true, "registry is ready");
        narrator.Check(false, "server answered");

        narrator.Lines.ShouldBe([
            "+  0.00s  step   started registry",
            "+  1.25s  check  [ok]   registry is ready",
            "+  1.25s  check  [FAIL] server answered",
        ]);
        output.ToString().ShouldContain("[FAIL] server answered");
    }

    [Test]
    public void Log_timestamps_are_stripped_and_long_lines_cut()
    {
        Narrator.StripLogTimestamp("2026-11-25 19:30:01.123 INFO  TcpServer: Connection opened").ShouldBe("INFO  TcpServer: Connection opened");
        Narrator.StripLogTimestamp("add(1, 2) = 13").ShouldBe("add(1, 2) = 13");
        Narrator.Shorten(new string('x', 1000)).ShouldEndWith("... (1000 chars)");
    }

    [Slow]
    [Test]
    public async Task Hidden_lines_are_not_echoed()
    {
        using var output = new StringWriter();
        var narrator = new Narrator(output);
        narrator.Hide("server-1", new Regex("Connection from"));
        await using var group = new ProcessGroup(Path.GetTempPath(), narrator.Echo);
        ManagedProcess process = group.Start("server-1", ScenarioTestSupport.Programs.DotnetHost, ["--version"]);
        await process.WaitForExitAsync(TestTimeouts.Unexpected);

        narrator.Echo(process, new OutputLine(DateTimeOffset.UtcNow, false, "INFO  TcpServer: Connection from 127.0.0.1:1 opened"));
        narrator.Echo(process, new OutputLine(DateTimeOffset.UtcNow, false, "INFO  RpcServer: Server stopped"));

        narrator.Lines.ShouldNotContain(line => line.Contains("Connection from"));
        narrator.Lines.ShouldContain(line => line.EndsWith("server-1 | INFO  RpcServer: Server stopped"));
    }
}
