using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Lab.Tests.Registry;

/// <summary>
/// The built <c>Lab.Registry</c> program as a real process: readiness line, serving, SIGTERM, and the
/// command-line and start-up failures an operator sees.
/// </summary>
[Slow]
[Parallelizable(ParallelScope.All)]
public class ProgramTests
{
    [TestCase(LabProcess.SigTerm, TestName = "Started_with_port_0_it_prints_the_readiness_line_serves_and_exits_0_on_SIGTERM")]
    [TestCase(LabProcess.SigInt, TestName = "Started_with_port_0_it_prints_the_readiness_line_serves_and_exits_0_on_Ctrl_C")]
    public async Task Started_with_port_0_it_prints_the_readiness_line_serves_and_exits_0_on_a_stop_signal(int signal)
    {
        Assume.That(!OperatingSystem.IsWindows(), "SIGTERM and SIGINT are POSIX signals");
        // ASPNETCORE_URLS must not add an address or a warning: -l/-p alone decide.
        using var configFiles = new TestConfigFiles();
        string config = WriteTestConfig(configFiles);
        using LabProcess registry = LabProcess.Start("Lab.Registry", ["-l", "127.0.0.1", "-p", "0", "--config", config], ("ASPNETCORE_URLS", "http://127.0.0.1:1"));
        try
        {
            Match ready = await registry.WaitForOutputAsync(@"Registry listening on http://127\.0\.0\.1:(\d+)$");
            int port = int.Parse(ready.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

            using var http = new HttpClient { Timeout = TestTimeouts.Unexpected };
            using HttpResponseMessage response = await http.PostAsync(
                new Uri($"http://127.0.0.1:{port}/myRegistry/register"), new StringContent(RunningRegistry.Instance(8080)));
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            await registry.WaitForOutputAsync(@"INFO  RegistryService: Registered json://127\.0\.0\.1:8080$");

            registry.Signal(signal);

            (await registry.WaitForExitAsync()).ShouldBe(0);
            await registry.WaitForOutputAsync("Registry stopped$");
            registry.OutputLines.ShouldNotContain(line => line.Contains("WARN", StringComparison.Ordinal) || line.Contains("Overriding", StringComparison.Ordinal));
        }
        finally
        {
            registry.Kill();
        }
    }

    [Test]
    public async Task Without_p_it_listens_on_the_port_from_config_ini()
    {
        int port = FreePorts.Pick();
        using var configFiles = new TestConfigFiles();
        string config = configFiles.Write("registry", $"[registry]\nhost = 127.0.0.1\nport = {port}\n");
        using LabProcess registry = LabProcess.Start("Lab.Registry", ["--config", config]);
        try
        {
            await registry.WaitForOutputAsync($@"Registry listening on http://127\.0\.0\.1:{port}$");
            registry.Signal(LabProcess.SigTerm);
            (await registry.WaitForExitAsync()).ShouldBe(0);
        }
        finally
        {
            registry.Kill();
        }
    }


    [Test]
    public async Task Port_in_use_is_one_clear_line_and_a_non_zero_exit()
    {
        using var occupant = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        occupant.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        occupant.Listen();
        int port = ((IPEndPoint)occupant.LocalEndPoint!).Port;

        using var configFiles = new TestConfigFiles();
        string config = WriteTestConfig(configFiles);
        using LabProcess registry = LabProcess.Start("Lab.Registry", ["-l", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--config", config]);
        try
        {
            (await registry.WaitForExitAsync()).ShouldBe(1);
            registry.ErrorLines.ShouldBe([$"Lab.Registry: fatal: Failed to bind to address http://127.0.0.1:{port}: address already in use."]);
            registry.OutputLines.ShouldNotContain(line => line.Contains("listening", StringComparison.Ordinal));
        }
        finally
        {
            registry.Kill();
        }
    }

    [Test]
    public async Task Help_lists_the_options_and_exits_0()
    {
        using LabProcess registry = LabProcess.Start("Lab.Registry", ["-h"]);
        try
        {
            (await registry.WaitForExitAsync()).ShouldBe(0);
            string help = registry.Output;
            help.ShouldContain("-l, --host");
            help.ShouldContain("-p, --port");
            help.ShouldContain("--config");
        }
        finally
        {
            registry.Kill();
        }
    }

    // Short, explicit settings, so the repository's config.ini cannot change what the test sees.
    private static string WriteTestConfig(TestConfigFiles configFiles) =>
        configFiles.Write("registry", "[registry]\nhost = 127.0.0.1\nhealth_check_interval = 1\nheartbeat_timeout = 3\n[logging]\nlevel = information\n");
}
