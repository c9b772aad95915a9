using System.Text.RegularExpressions;
using Lab.Scenarios;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Scenarios;

/// <summary>The process handle every scenario relies on, exercised on the real server program.</summary>
[Slow]
public class ManagedProcessTests
{
    private static readonly Regex Ready = new("Server listening on");

    private ProcessGroup _group = null!;
    private string _config = "";

    [SetUp]
    public void StartGroup()
    {
        _group = new ProcessGroup(Path.GetTempPath(), onLine: null);
        // A registry port where nothing listens: the server logs the outage once and serves anyway.
        var file = new ScenarioConfigFile(Path.Combine(Path.GetTempPath(), $"rpclab-mp-{Guid.NewGuid():N}.ini"), ScenarioTimings.Load(null));
        file.Set("registry:port", ScenarioContext.Invariant(ScenarioContext.UnusedPort()));
        _config = file.Path;
    }

    [TearDown]
    public async Task DisposeGroup()
    {
        await _group.DisposeAsync();
        File.Delete(_config);
    }

    [Test]
    public async Task Waits_for_a_line_then_Ctrl_C_stops_the_program_gracefully_with_exit_code_0()
    {
        if (!ProcessSignals.AreSupported)
        {
            Assert.Ignore("needs POSIX signals");
        }

        ManagedProcess server = StartServer();
        OutputLine ready = await server.WaitForLineAsync(Ready, ScenarioContext.StartupTimeout);

        int exitCode = await server.InterruptAsync(TestTimeouts.Unexpected);

        ready.Text.ShouldContain("Server listening on 127.0.0.1:");
        exitCode.ShouldBe(0);
        server.Lines[^1].Text.ShouldContain("Server stopped");
    }

    [Test]
    public async Task SIGTERM_stops_the_program_gracefully_too()
    {
        if (!ProcessSignals.AreSupported)
        {
            Assert.Ignore("needs POSIX signals");
        }

        ManagedProcess server = StartServer();
        await server.WaitForLineAsync(Ready, ScenarioContext.StartupTimeout);

        int exitCode = await server.TerminateAsync(TestTimeouts.Unexpected);

        exitCode.ShouldBe(0);
        server.LinesMatching(new Regex("Server stopped")).ShouldNotBeEmpty();
    }

    [Test]
    public async Task Kill_hard_ends_the_program_without_its_shutdown_lines()
    {
        ManagedProcess server = StartServer();
        await server.WaitForLineAsync(Ready, ScenarioContext.StartupTimeout);

        server.KillHard();
        int exitCode = await server.WaitForExitAsync(TestTimeouts.Unexpected);

        exitCode.ShouldNotBe(0);
        server.LinesMatching(new Regex("Server stopped")).ShouldBeEmpty();
        ScenarioRunner.IsAlive(server.Id).ShouldBeFalse();
    }

    [Test]
    public async Task Waiting_past_the_timeout_fails_with_a_message_naming_process_and_pattern()
    {
        ManagedProcess server = StartServer();

        var error = await Should.ThrowAsync<ScenarioFailedException>(() => server.WaitForLineAsync(new Regex("never printed"), TimeSpan.FromMilliseconds(200)));

        error.Message.ShouldBe("server printed no line matching /never printed/ within 0.2 s");
    }

    [Test]
    public async Task Disposed_group_kills_what_runs_and_refuses_new_processes()
    {
        ManagedProcess server = StartServer();
        await server.WaitForLineAsync(Ready, ScenarioContext.StartupTimeout);

        await _group.DisposeAsync();

        ScenarioRunner.IsAlive(server.Id).ShouldBeFalse();
        ProcessTracker.Snapshot().ShouldNotContain(server);
        Should.Throw<ObjectDisposedException>(StartServer);
    }

    private ManagedProcess StartServer() =>
        _group.Start("server", ScenarioTestSupport.Programs.DotnetHost,
            [ScenarioTestSupport.Programs.DllPath(LabProgram.Server), "-l", "127.0.0.1", "-p", "0", "--config", _config]);
}
