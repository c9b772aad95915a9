using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Protocol;

public class KeepAliveLoopTests
{
    [Test]
    public async Task Any_exception_is_an_outage_logged_once_and_the_loop_keeps_renewing()
    {
        using var log = new LogRecorder();
        using ILoggerFactory loggerFactory = log.CreateFactory();
        using var stopping = new CancellationTokenSource();
        int attempts = 0;
        Task Renew(CancellationToken token) =>
            ++attempts <= 3 ? throw new InvalidOperationException($"a bug, attempt {attempts}") : Task.CompletedTask;

        Task loop = KeepAliveLoop.RunAsync(Renew, new InstanceMeta { Host = "127.0.0.1", Port = 5555 }, "test-registry",
            TimeSpan.FromSeconds(0.05), TimeProvider.System, loggerFactory.CreateLogger("KeepAlive"), stopping.Token);

        await log.WaitForLineAsync(@"Registry reachable again; registered as json://127\.0\.0\.1:5555");
        log.Count("Registry unreachable at test-registry: a bug, attempt 1").ShouldBe(1);
        log.Count("Registry unreachable").ShouldBe(1);
        await stopping.CancelAsync();
        await loop.WaitAsync(TestTimeouts.Unexpected);
    }
}
