using System.Text.RegularExpressions;
using Lab.Tests.Client.Support;
using Lab.Tests.Server.Support;

namespace Lab.Tests.ClientApp;

// The real program, started as a process with the command lines the lab and the scenarios use.
[Slow]
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public class ClientCommandLineTests
{
    private readonly TestConfigFiles _configFiles = new();

    [TearDown]
    public void DeleteConfigFiles() => _configFiles.Dispose();

    [Test]
    public async Task Help_lists_the_mode_host_port_and_config_options()
    {
        using LabProcess client = LabProcess.Start("Lab.ClientApp", ["-h"]);

        (await client.WaitForExitAsync()).ShouldBe(0);
        foreach (string option in new[] { "-m, --mode <server|registry>", "-i, --host", "-p, --port", "--config", "--duration", "--concurrency", "METHOD [ARG...]" })
        {
            client.Output.ShouldContain(option);
        }
    }

    [Test]
    public async Task Server_mode_without_a_port_ends_with_a_one_line_configuration_error_and_exit_code_2()
    {
        using LabProcess client = LabProcess.Start("Lab.ClientApp", ["-m", "server", "-i", "127.0.0.1", "--config", WriteConfig(registryPort: 1)]);

        (await client.WaitForExitAsync()).ShouldBe(2);
        client.Error.ShouldBe("Lab.ClientApp: configuration error: server mode needs the server's address: give -i/--host and -p/--port (e.g. -m server -i 127.0.0.1 -p 8089)\n");
    }

    [Test]
    public async Task One_call_in_server_mode_prints_the_contract_line([Values("127.0.0.1", "::1")] string host)
    {
        await using RunningTcpServer server = RunningTcpServer.Start(address: System.Net.IPAddress.Parse(host));
        using LabProcess client = LabProcess.Start("Lab.ClientApp", [
            "-m", "server", "-i", host, "-p", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--config", WriteConfig(registryPort: 1), "add", "1", "2"]);

        (await client.WaitForExitAsync()).ShouldBe(0, client.Error);
        client.Output.ShouldContain($"add(1, 2) = 13  [server {server.Address}]\n");
    }

    [Test]
    public async Task Stopping_one_of_two_servers_during_a_duration_run_costs_no_failed_call()
    {
        await using RunningTcpServer a = RunningTcpServer.Start("a");
        await using RunningTcpServer b = RunningTcpServer.Start("b");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetServers(a, b);
        using LabProcess client = LabProcess.Start("Lab.ClientApp", ["--duration", "3", "--concurrency", "4", "--config", WriteConfig(registry.Port)]);

        // The first progress line, whichever second it is: a loaded machine may skip a tick.
        await client.WaitForOutputAsync(@"\[ *\d+s\]");
        // A graceful stop: no new connections, open ones closed once their call is answered. The fake
        // registry keeps listing the stopped server, so the client has to fail over on its own.
        await a.StopAsync();

        int exitCode = await client.WaitForExitAsync();
        exitCode.ShouldBe(0, client.Output + client.Error);
        Match summary = Regex.Match(client.Output, @"^Summary: (\d+) succeeded, 0 failed$", RegexOptions.Multiline);
        summary.Success.ShouldBeTrue(client.Output);
        client.Output.ShouldContain($"  {a.Address}: ");
        client.Output.ShouldContain($"  {b.Address}: ");
        b.CallsAnswered.ShouldBeGreaterThan(0);
    }

    [Test]
    public async Task A_stop_signal_to_a_duration_run_stops_it_early_with_its_summary_and_exit_code_0([Values(LabProcess.SigInt, LabProcess.SigTerm)] int signal)
    {
        // The signal used to kill the program at once (exit 130, no summary): System.CommandLine 2.0.0 catches no signal by default.
        await using RunningTcpServer server = RunningTcpServer.Start();
        using LabProcess client = LabProcess.Start("Lab.ClientApp", [
            "-m", "server", "-i", server.Host, "-p", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--config", WriteConfig(registryPort: 1), "--duration", "600", "--concurrency", "2", "--interval", "5"]);
        await client.WaitForOutputAsync(@"^\[ *\d+s\] [1-9]\d* succeeded, 0 failed$");

        client.Signal(signal);

        // A 600 s run that ends within the wait below can only have been stopped by the signal.
        (await client.WaitForExitAsync()).ShouldBe(0, client.Output + client.Error);
        client.Output.ShouldMatch(@"\nStopped early \(Ctrl\+C or SIGTERM\) after [\d.]+ s of 600 s\nSummary: [1-9]\d* succeeded, 0 failed\n");
        client.Output.ShouldContain($"  {server.Address}: ");
        client.Output.ShouldMatch(@"\nPhase start \(from 0\.0 s\): [1-9]\d* calls, .*\n$");
        client.Error.ShouldBeEmpty();
    }

    [Test]
    public async Task Ctrl_C_during_one_call_ends_it_with_interrupted_and_exit_code_130()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        using LabProcess client = LabProcess.Start("Lab.ClientApp", [
            "-m", "server", "-i", server.Host, "-p", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--config", WriteConfig(registryPort: 1), "hold"]);
        await server.WaitUntilAsync(s => s.HeldCalls == 1, "the client's call arrived");

        client.Signal(LabProcess.SigInt);

        (await client.WaitForExitAsync()).ShouldBe(130, client.Output + client.Error);
        client.Error.ShouldBe("interrupted (Ctrl+C or SIGTERM)\n");
        client.Output.ShouldBeEmpty();
    }

    private string WriteConfig(int registryPort)
    {
        return _configFiles.Write("client-cli", $"""
            [registry]
            host = 127.0.0.1
            port = {registryPort}

            [client]
            poll_interval = 0.1
            registry_timeout = 5
            connect_timeout = 10
            call_timeout = 20
            load_balance = round_robin
            """);
    }
}
