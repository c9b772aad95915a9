using System.Diagnostics;
using System.Text.RegularExpressions;
using Lab.ClientApp;
using Lab.Hosting;
using Lab.Protocol.Settings;
using Lab.Tests.Client.Support;
using Lab.Tests.Server.Support;

namespace Lab.Tests.ClientApp;

// The program's three uses, run in-process against test servers, checking the exact output lines
// the scenario harness relies on.
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public partial class ClientProgramTests
{
    private readonly LogRecorder _logs = new();
    private readonly StringWriter _output = new();
    private readonly StringWriter _error = new();
    private readonly TestConfigFiles _configFiles = new();

    [TearDown]
    public void DeleteConfigFiles() => _configFiles.Dispose();

    [Test]
    public async Task One_call_prints_the_result_and_the_server_and_exits_0()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();

        int exitCode = await RunAsync(ServerMode(server) with { Call = ["add", "1", "2"] });

        exitCode.ShouldBe(0);
        _output.ToString().ShouldBe($"add(1, 2) = 13  [server {server.Address}]\n");
    }

    [Test]
    public async Task One_call_with_a_word_argument_sends_it_as_a_string()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();

        int exitCode = await RunAsync(ServerMode(server) with { Call = ["hi", "bob"] });

        exitCode.ShouldBe(0);
        _output.ToString().ShouldBe($"hi(\"bob\") = \"hi bob, welcome\"  [server {server.Address}]\n");
    }

    [Test]
    public async Task A_failed_call_prints_the_error_code_on_stderr_and_exits_1()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();

        int exitCode = await RunAsync(ServerMode(server) with { Call = ["add", "1"] });

        exitCode.ShouldBe(1);
        _output.ToString().ShouldBeEmpty();
        _error.ToString().ShouldBe("add(1) failed: InvalidArguments: add() is missing required argument 'b'\n");
    }

    [Test]
    public async Task Server_mode_without_a_port_is_a_configuration_error()
    {
        var failure = await Should.ThrowAsync<ConfigurationException>(
            () => RunAsync(new ClientOptions(ConfigPath: WriteConfig(registryPort: 1), Mode: "server", Host: "127.0.0.1")));

        failure.Message.ShouldContain("-p/--port");
    }

    [Test]
    public async Task The_demo_shows_every_demo_method_with_its_expected_value_then_30_concurrent_calls()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();

        int exitCode = await RunAsync(ServerMode(server));

        string output = _output.ToString();
        exitCode.ShouldBe(0, output + _error);
        _error.ToString().ShouldBeEmpty();
        output.ShouldContain($"add(1, 2) = 13  [server {server.Address}]  expected 13: ok\n");
        output.ShouldContain($"add(1, 2, c=5) = 8  [server {server.Address}]  expected 8: ok\n");
        output.ShouldContain($"divide(1, 0) failed: MethodFailed: Division by zero error!  [server {server.Address}]  expected MethodFailed: ok\n");
        output.ShouldContain($"area_of_circle(2) = 12.566370614359172  [server {server.Address}]  expected 12.566370614359172: ok\n");
        output.ShouldContain($"hi(\"bob\") = \"hi bob, welcome\"  [server {server.Address}]  expected \"hi bob, welcome\": ok\n");
        foreach (string method in new[] { "subtract", "multiply", "square", "to_uppercase", "reverse_string", "hello" })
        {
            output.ShouldContain($"{method}(");
        }

        output.ShouldContain("all 10 demo methods listed: ok");
        ConcurrentLine().Matches(output).Count.ShouldBe(30);
        output.ShouldEndWith($"Summary: 43 succeeded, 0 failed\n  {server.Address}: 43 succeeded, 0 failed\n");
    }

    [Test]
    public async Task The_demo_through_the_registry_spreads_the_concurrent_calls_over_both_servers()
    {
        await using RunningTcpServer a = RunningTcpServer.Start("a");
        await using RunningTcpServer b = RunningTcpServer.Start("b");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetServers(a, b);

        int exitCode = await RunAsync(new ClientOptions(ConfigPath: WriteConfig(registry.Port, loadBalance: "round_robin")));

        exitCode.ShouldBe(0, _output.ToString() + _error);
        string[] servers = ConcurrentLine().Matches(_output.ToString()).Select(match => match.Groups["server"].Value).ToArray();
        servers.Length.ShouldBe(30);
        // With calls in flight the server with fewer outstanding calls comes first and round robin
        // decides between equals, so the split is even but need not alternate exactly.
        servers.Count(server => server == a.Address).ShouldBeInRange(10, 20, string.Join(" ", servers));
        servers.Count(server => server == b.Address).ShouldBeInRange(10, 20, string.Join(" ", servers));
        _output.ToString().ShouldContain($"  {a.Address}: ");
        _output.ToString().ShouldContain($"  {b.Address}: ");
    }

    [Test]
    public async Task The_demo_exits_1_when_no_server_is_available()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();

        int exitCode = await RunAsync(new ClientOptions(ConfigPath: WriteConfig(registry.Port)));

        exitCode.ShouldBe(1);
        _error.ToString().ShouldContain("failed: NoServerAvailableException: no server available");
        _output.ToString().ShouldContain("Summary: 0 succeeded, 43 failed\n  (no server): 0 succeeded, 43 failed\n");
    }

    [Test]
    public async Task Duration_mode_prints_progress_each_second_and_a_per_server_summary()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();

        int exitCode = await RunAsync(ServerMode(server) with { DurationSeconds = 1.3, Concurrency = 3 });

        string output = _output.ToString();
        exitCode.ShouldBe(0, output + _error);
        ProgressLine().Match(output).Success.ShouldBeTrue(output);
        Match summary = SummaryLine().Match(output);
        summary.Success.ShouldBeTrue(output);
        long succeeded = long.Parse(summary.Groups["succeeded"].Value, System.Globalization.CultureInfo.InvariantCulture);
        succeeded.ShouldBeGreaterThan(0);
        output.ShouldContain($"  {server.Address}: {succeeded} succeeded, 0 failed\nLongest gap without a completed call: ");
        output.ShouldMatch($@"\nPhase start \(from 0\.0 s\): {succeeded} calls, p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms, longest gap [\d.]+ s\n$");
        server.CallsAnswered.ShouldBe((int)succeeded);
    }

    [Test]
    public async Task Duration_mode_starts_a_phase_for_each_line_of_its_input()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();

        int exitCode = await ClientProgram.RunAsync(ServerMode(server) with { DurationSeconds = 0.5, Concurrency = 2 }, _output, _error, _logs.CreateFactory(),
                                                phaseMarks: new StringReader("frozen\n  resumed  \n"));

        exitCode.ShouldBe(0);
        MatchCollection phases = PhaseLine().Matches(_output.ToString());
        phases.Select(phase => phase.Groups["name"].Value).ShouldBe(["start", "frozen", "resumed"]);
        phases.Sum(phase => long.Parse(phase.Groups["calls"].Value, System.Globalization.CultureInfo.InvariantCulture)).ShouldBe(server.CallsAnswered);
    }

    [Test]
    public async Task Duration_mode_counts_failures_and_exits_1()
    {
        await using var server = new MisbehavingServer(Misbehaviour.CloseAfterRequest);

        int exitCode = await RunAsync(new ClientOptions(ConfigPath: WriteConfig(registryPort: 1), Mode: "server", Host: server.Host, Port: server.Port, DurationSeconds: 0.3, Concurrency: 2));

        exitCode.ShouldBe(1);
        _error.ToString().ShouldContain("failed: RpcReadException:");
        _output.ToString().ShouldMatch($@"Summary: 0 succeeded, \d+ failed\n  {Regex.Escape(server.Address)}: 0 succeeded, \d+ failed\nLongest gap");
    }

    [Test]
    public async Task Duration_mode_ends_within_its_end_grace_when_a_server_never_answers()
    {
        // Calls still running at the end used to run on to their call timeout: --duration 20 ended at 77 s.
        await using var server = new MisbehavingServer(Misbehaviour.NeverAnswers);
        var duration = TimeSpan.FromSeconds(0.5);
        var stopwatch = Stopwatch.StartNew();

        int exitCode = await RunAsync(new ClientOptions(ConfigPath: WriteConfig(registryPort: 1), Mode: "server", Host: server.Host, Port: server.Port,
                                                        DurationSeconds: duration.TotalSeconds, Concurrency: 2));

        stopwatch.Elapsed.ShouldBeLessThan(duration + DurationRun.EndGrace + TestTimeouts.Prompt);
        stopwatch.Elapsed.ShouldBeGreaterThanOrEqualTo(duration + DurationRun.EndGrace - TestTimeouts.TimerGranularity, "the grace is given before cutting calls off");
        exitCode.ShouldBe(1);
        _error.ToString().ShouldContain("cut off: still running 2 s after the run ended");
        _output.ToString().ShouldContain("Summary: 0 succeeded, 2 failed\n  (cut off): 0 succeeded, 2 failed\n");
    }

    [Test]
    public async Task Duration_mode_stopped_early_gives_calls_in_progress_the_end_grace_and_counts_them()
    {
        // Ctrl+C ends the run as its duration would: a call stuck on a silent server is cut off and
        // counted as failed, not dropped from the figures.
        await using var server = new MisbehavingServer(Misbehaviour.NeverAnswers);
        using var ctrlC = new CancellationTokenSource();
        Task<int> run = ClientProgram.RunAsync(new ClientOptions(ConfigPath: WriteConfig(registryPort: 1), Mode: "server", Host: server.Host, Port: server.Port,
                                                                 DurationSeconds: 600, Concurrency: 2), _output, _error, _logs.CreateFactory(), ctrlC.Token);
        await server.WaitUntilAsync(s => s.RequestsReceived == 2, "both workers' first calls arrived");
        var stopwatch = Stopwatch.StartNew();

        await ctrlC.CancelAsync();
        int exitCode = await run.WaitAsync(TestTimeouts.Unexpected);

        stopwatch.Elapsed.ShouldBeLessThan(DurationRun.EndGrace + TestTimeouts.Prompt);
        stopwatch.Elapsed.ShouldBeGreaterThanOrEqualTo(DurationRun.EndGrace - TestTimeouts.TimerGranularity, "the grace is given before cutting calls off");
        exitCode.ShouldBe(1);
        _output.ToString().ShouldMatch(@"(?m)^Stopped early \(Ctrl\+C or SIGTERM\) after [\d.]+ s of 600 s\nSummary: 0 succeeded, 2 failed\n  \(cut off\): 0 succeeded, 2 failed\n");
    }

    [Slow]
    [Test]
    public async Task The_program_in_registry_mode_survives_a_server_whose_replies_are_not_UTF8()
    {
        // The real program, as a process: it used to die at the first such reply ("fatal: Cannot transcode
        // invalid UTF-8", exit 1 at 0.3 s) although a good server was listed too.
        await using var bad = new MisbehavingServer(Misbehaviour.InvalidUtf8Reply);
        await using RunningTcpServer good = RunningTcpServer.Start("good");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances((bad.Host, bad.Port, null), (good.Host, good.Port, null));

        using LabProcess client = LabProcess.Start("Lab.ClientApp", ["--config", WriteConfig(registry.Port, loadBalance: "round_robin"), "--duration", "1", "--concurrency", "2"]);
        int exitCode = await client.WaitForExitAsync();

        exitCode.ShouldBe(0, client.Output + client.Error);
        client.Output.ShouldMatch($@"Summary: [1-9]\d* succeeded, 0 failed\n  {Regex.Escape(good.Address)}: [1-9]\d* succeeded, 0 failed\n");
        bad.RequestsReceived.ShouldBeGreaterThanOrEqualTo(1, "the bad server was tried, then failed over");
    }

    private Task<int> RunAsync(ClientOptions options) =>
        ClientProgram.RunAsync(options, _output, _error, _logs.CreateFactory());

    private ClientOptions ServerMode(RunningTcpServer server) =>
        new(ConfigPath: WriteConfig(registryPort: 1), Mode: "server", Host: server.Host, Port: server.Port);

    // A scenario-style configuration file with short timings; the registry port is unused in server mode.
    private string WriteConfig(int registryPort, string loadBalance = "random")
    {
        return _configFiles.Write("client", $"""
            [registry]
            host = 127.0.0.1
            port = {registryPort}

            [client]
            poll_interval = 0.05
            registry_timeout = 5
            connect_timeout = 10
            call_timeout = 20
            load_balance = {loadBalance}
            """);
    }

    [GeneratedRegex(@"^add\((?<i>\d+), \k<i>\) = \d+  \[server (?<server>[^\]]+)\]$", RegexOptions.Multiline)]
    private static partial Regex ConcurrentLine();

    [GeneratedRegex(@"^\[  1s\] \d+ succeeded, 0 failed$", RegexOptions.Multiline)]
    private static partial Regex ProgressLine();

    [GeneratedRegex(@"^Summary: (?<succeeded>\d+) succeeded, 0 failed$", RegexOptions.Multiline)]
    private static partial Regex SummaryLine();

    [GeneratedRegex(@"^Phase (?<name>\w+) \(from [\d.]+ s\): (?<calls>\d+) calls", RegexOptions.Multiline)]
    private static partial Regex PhaseLine();
}
