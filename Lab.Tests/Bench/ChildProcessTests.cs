using System.Text.RegularExpressions;
using Lab.Bench;
using Lab.Tests.Support;

namespace Lab.Tests.Bench;

[Slow]
public class ChildProcessTests
{
    private static readonly string BenchDll = Path.Combine(AppContext.BaseDirectory, "Lab.Bench.dll");

    [Test]
    public async Task Floor_process_is_ready_with_its_port_and_stops_cleanly_on_SIGTERM()
    {
        await using ChildProcess floor = await ChildProcess.StartAsync(
            "floor", BenchDll, ["floor", "-p", "0"], ReadyLine.Floor(), TestTimeouts.Unexpected);

        floor.Port.ShouldBeGreaterThan(0);
        floor.ReadWorkingSetBytes().ShouldNotBeNull().ShouldBeGreaterThan(0);
        int? exitCode = await floor.StopAsync(TestTimeouts.Unexpected);

        exitCode.ShouldBe(0);
        floor.ReadWorkingSetBytes().ShouldBeNull();
    }

    [Test]
    public async Task Program_that_exits_before_its_readiness_line_fails_the_start_with_its_output()
    {
        InvalidOperationException error = await Should.ThrowAsync<InvalidOperationException>(() => ChildProcess.StartAsync(
            "floor", BenchDll, ["floor", "-p", "0", "-l", "not-an-address"], ReadyLine.Floor(), TestTimeouts.Unexpected));

        error.Message.ShouldContain("floor exited with code 1 before it was ready");
        error.Message.ShouldContain("fatal");
    }
}
