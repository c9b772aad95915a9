using Lab.Hosting;

namespace Lab.Tests.Hosting;

/// <summary>
/// <c>RPCLAB_SECTION__KEY</c> environment variables (how containers are configured) sit between
/// <c>config.ini</c> and the flags, and a bad one is blamed on the variable. Checked on the real
/// server program, since environment variables belong to a whole process.
/// </summary>
[Slow]
public class EnvironmentConfigurationTests
{
    private TestConfigFiles _configFiles = null!;
    private string _configPath = null!;

    [SetUp]
    public void WriteConfig()
    {
        _configFiles = new TestConfigFiles();
        // No registry listens on port 1: the server says so once and serves anyway.
        _configPath = _configFiles.Write("environment", "[server]\nhost = 127.0.0.1\n[registry]\nhost = 127.0.0.1\nport = 1\n");
    }

    [TearDown]
    public void DeleteConfig() => _configFiles.Dispose();

    [Test]
    public async Task An_environment_variable_overrides_config_ini()
    {
        using var server = LabProcess.Start("Lab.Server", ["-p", "0", "--config", _configPath], ("RPCLAB_SERVER__HOST", "::1"));

        await server.WaitForOutputAsync(@"Server listening on \[::1\]:\d+$");
    }

    [Test]
    public async Task A_flag_overrides_the_environment_variable()
    {
        using var server = LabProcess.Start("Lab.Server", ["-p", "0", "-l", "127.0.0.1", "--config", _configPath], ("RPCLAB_SERVER__HOST", "::1"));

        await server.WaitForOutputAsync(@"Server listening on 127\.0\.0\.1:\d+$");
    }

    [Test]
    public async Task A_bad_value_from_the_environment_is_blamed_on_the_variable()
    {
        using var server = LabProcess.Start("Lab.Server", ["-p", "0", "--config", _configPath], ("RPCLAB_SERVER__HEARTBEAT_INTERVAL", "abc"));

        int exitCode = await server.WaitForExitAsync();

        exitCode.ShouldBe(LabCommandLine.ConfigurationErrorExitCode);
        server.Error.ShouldContain("environment variable RPCLAB_SERVER__HEARTBEAT_INTERVAL: [server] heartbeat_interval = \"abc\" is not a number of seconds");
    }
}
