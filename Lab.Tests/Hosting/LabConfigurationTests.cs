using Lab.Hosting;
using Lab.Protocol.Settings;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Hosting;

/// <summary>Loading <c>config.ini</c> (lab requirements §8): the file, <c>--config</c>, flags over the file, clear errors.</summary>
[Parallelizable(ParallelScope.All)]
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public class LabConfigurationTests
{
    private string _directory = "";

    [SetUp]
    public void CreateDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), "rpclab-config-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void Explicit_file_that_does_not_exist_is_an_error_naming_the_path()
    {
        string missing = Path.Combine(_directory, "nope.ini");

        Should.Throw<ConfigurationException>(() => LabConfiguration.Load(missing))
            .Message.ShouldBe($"configuration file not found: {missing}");
    }

    [Test]
    public void Malformed_INI_is_an_error_naming_the_file_and_the_bad_line()
    {
        string path = Write("broken.ini", "[registry]\nport = 9999\nthis line has no equals sign\n");

        string message = Should.Throw<ConfigurationException>(() => LabConfiguration.Load(path)).Message;

        message.ShouldStartWith(path + ": ");
        message.ShouldContain("this line has no equals sign");
    }

    [Test]
    public void Duplicate_key_is_an_error_naming_the_file_and_the_key()
    {
        string path = Write("twice.ini", "[registry]\nport = 1\nport = 2\n");

        string message = Should.Throw<ConfigurationException>(() => LabConfiguration.Load(path)).Message;

        message.ShouldStartWith(path + ": ");
        message.ShouldContain("registry:port");
    }

    [Test]
    public void Bad_value_is_an_error_naming_file_section_key_and_value()
    {
        string path = Write("lab.ini", "[server]\nheartbeat_interval = abc\n");

        Should.Throw<ConfigurationException>(() => SettingsReader.ReadServer(LabConfiguration.Load(path)))
            .Message.ShouldBe("lab.ini: [server] heartbeat_interval = \"abc\" is not a number of seconds");
    }

    [Test]
    public void Command_line_overrides_win_over_the_file_and_null_overrides_are_ignored()
    {
        string path = Write("lab.ini", "[registry]\nhost = 10.0.0.1\nport = 7000\nheartbeat_timeout = 4\n");

        LabConfiguration configuration = LabConfiguration.Load(path, new Dictionary<string, string?>
        {
            ["registry:port"] = "7001",
            ["registry:host"] = null,
        });
        RegistrySettings settings = SettingsReader.ReadRegistry(configuration);

        settings.Port.ShouldBe(7001);
        settings.Host.ShouldBe("10.0.0.1");
        settings.HeartbeatTimeout.ShouldBe(TimeSpan.FromSeconds(4));
    }

    [Test]
    public void A_bad_value_from_a_flag_is_blamed_on_the_command_line_not_the_file()
    {
        string path = Write("lab.ini", "[registry]\nport = 7000\n");

        LabConfiguration configuration = LabConfiguration.Load(path, new Dictionary<string, string?> { ["registry:port"] = "99999" });

        Should.Throw<ConfigurationException>(() => SettingsReader.ReadRegistry(configuration))
            .Message.ShouldBe("command line: [registry] port = \"99999\" must be between 0 and 65535");
    }

    [Test]
    public void Keys_missing_from_the_file_take_the_built_in_defaults()
    {
        string path = Path.Combine(_directory, "config.ini");
        File.WriteAllText(path, "[registry]\nport = 0\n");
        LabConfiguration configuration = LabConfiguration.Load(path);

        SettingsReader.ReadRegistry(configuration).ShouldBe(new RegistrySettings { Port = 0 });
        SettingsReader.ReadServer(configuration).ShouldBe(new ServerSettings());
        SettingsReader.ReadClient(configuration).ShouldBe(new ClientSettings());
        SettingsReader.ReadLogging(configuration).ShouldBe(new LogSettings());
    }

    [Test]
    public void Repository_config_ini_documents_exactly_the_built_in_defaults()
    {
        string path = Path.Combine(RepositoryRoot(), "config.ini");
        LabConfiguration configuration = LabConfiguration.Load(path);

        SettingsReader.ReadRegistry(configuration).ShouldBe(new RegistrySettings());
        SettingsReader.ReadServer(configuration).ShouldBe(new ServerSettings());
        SettingsReader.ReadClient(configuration).ShouldBe(new ClientSettings());
        SettingsReader.ReadLogging(configuration).ShouldBe(new LogSettings { Level = LogLevel.Information });
    }

    [Test]
    public void Empty_values_mean_the_default()
    {
        string path = Write("lab.ini", "[server]\nport =\nadvertise_host =\nmethod_timeout =\n");

        SettingsReader.ReadServer(LabConfiguration.Load(path)).ShouldBe(new ServerSettings());
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "RpcLab.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException("RpcLab.sln not found above " + AppContext.BaseDirectory);
    }
}
