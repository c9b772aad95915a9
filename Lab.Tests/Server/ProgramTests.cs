using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Server;

/// <summary>The built Lab.Server program, run as a real process the way the scenario harness runs it.</summary>
[Slow]
public class ProgramTests
{
    private TestConfigFiles _configFiles = null!;
    private string _configPath = null!;

    [SetUp]
    public void CreateConfigFiles() => _configFiles = new TestConfigFiles();

    [TearDown]
    public void DeleteConfigFiles() => _configFiles.Dispose();

    [Test]
    [Platform(Exclude = "Win", Reason = "sends SIGTERM with kill")]
    public async Task Prints_the_readiness_line_serves_registers_and_exits_0_on_SIGTERM_after_unregistering()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        WriteConfig(registry.Port);
        using var server = LabProcess.Start("Lab.Server", ["-p", "0", "-l", "127.0.0.1", "--config", _configPath]);

        Match ready = await server.WaitForOutputAsync(@"INFO  RpcServer: Server listening on 127\.0\.0\.1:(\d+)$");
        int port = int.Parse(ready.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        await using (RawRpcConnection client = await RawRpcConnection.ConnectAsync(port))
        {
            await client.SendRawAsync("""{"method_name": "add", "method_args": [1, 2], "method_kwargs": {}}""");
            (await client.ReadReplyTextAsync()).ShouldBe("""{"res":13}""");
        }

        await registry.WaitUntilAsync(r => r.Contains($"json://127.0.0.1:{port}"), "the server's registration");
        await server.WaitForOutputAsync($@"Registered with registry at http://127\.0\.0\.1:{registry.Port} as json://127\.0\.0\.1:{port}");
        server.Signal(LabProcess.SigTerm);
        int exitCode = await server.WaitForExitAsync();

        exitCode.ShouldBe(0);
        registry.Contains($"json://127.0.0.1:{port}").ShouldBeFalse();
        server.Output.ShouldContain("Unregistered from registry");
        server.OutputLines[^1].ShouldEndWith("INFO  RpcServer: Server stopped");
        server.ErrorLines.ShouldBeEmpty();
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "sends SIGTERM with kill")]
    public async Task SIGTERM_with_an_idle_client_and_the_registry_down_still_exits_0()
    {
        WriteConfig(FakeRegistry.FreePort());
        using var server = LabProcess.Start("Lab.Server", ["-p", "0", "-l", "127.0.0.1", "--config", _configPath]);
        Match ready = await server.WaitForOutputAsync(@"Server listening on 127\.0\.0\.1:(\d+)$");
        await using RawRpcConnection idle = await RawRpcConnection.ConnectAsync(int.Parse(ready.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        await server.WaitForOutputAsync("Connection from .* opened");

        server.Signal(LabProcess.SigTerm);
        int exitCode = await server.WaitForExitAsync();

        exitCode.ShouldBe(0);
        server.Output.ShouldContain("Could not unregister from registry");
        server.Output.ShouldContain("closed after 0 calls (server stopping)");
    }

    [Test]
    public async Task Port_in_use_prints_one_line_exits_non_zero_and_never_registers()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        WriteConfig(registry.Port);
        using var occupant = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        occupant.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        occupant.Listen(1);
        int port = ((IPEndPoint)occupant.LocalEndPoint!).Port;
        using var server = LabProcess.Start("Lab.Server", ["-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-l", "127.0.0.1", "--config", _configPath]);

        int exitCode = await server.WaitForExitAsync();

        exitCode.ShouldBe(1);
        server.ErrorLines.ShouldBe([$"Lab.Server: fatal: cannot listen on 127.0.0.1:{port}: the address is already in use"]);
        server.Output.ShouldNotContain("Server listening");
        registry.Events.ShouldBeEmpty();
    }

    [Test]
    public async Task Invalid_listen_address_prints_one_line_and_exits_non_zero()
    {
        WriteConfig(FakeRegistry.FreePort());
        using var server = LabProcess.Start("Lab.Server", ["-p", "0", "-l", "not-an-address", "--config", _configPath]);

        int exitCode = await server.WaitForExitAsync();

        exitCode.ShouldBe(1);
        server.ErrorLines.Count.ShouldBe(1);
        server.ErrorLines[0].ShouldStartWith("Lab.Server: fatal: invalid listen address \"not-an-address\"");
    }

    [Test]
    public async Task Help_lists_the_options_and_exits_0()
    {
        using var server = LabProcess.Start("Lab.Server", ["-h"]);

        int exitCode = await server.WaitForExitAsync();

        exitCode.ShouldBe(0);
        foreach (string option in new[] { "-l, --host", "-p, --port", "--advertise-host", "--config" })
        {
            server.Output.ShouldContain(option);
        }
    }

    [Test]
    public async Task Missing_port_is_a_usage_error()
    {
        using var server = LabProcess.Start("Lab.Server", ["-l", "127.0.0.1"]);

        int exitCode = await server.WaitForExitAsync();

        exitCode.ShouldNotBe(0);
        server.Error.ShouldContain("--port");
    }

    // Short timings, and the registry the test chose.
    private void WriteConfig(int registryPort) => _configPath = _configFiles.Write("server", $"""
        [registry]
        host = 127.0.0.1
        port = {registryPort}

        [server]
        heartbeat_interval = 0.2
        registry_timeout = 5
        read_timeout = 0.5
        write_timeout = 0.5
        method_timeout = 5
        drain_timeout = 2

        [logging]
        level = information
        """);
}
