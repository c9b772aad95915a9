using Lab.Hosting;
using Lab.Protocol.Settings;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Scenarios;

public class ScenarioConfigFileTests
{
    private string _directory = "";

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("rpclab-config-test-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void Written_file_is_read_by_the_programs_configuration_loader_with_the_short_timings()
    {
        var file = new ScenarioConfigFile(Path.Combine(_directory, "config.ini"), ScenarioTimings.Load(null));
        file.Set("registry:port", "40123");

        LabConfiguration configuration = LabConfiguration.Load(file.Path);

        SettingsReader.ReadRegistry(configuration).Port.ShouldBe(40123);
        SettingsReader.ReadServer(configuration).HeartbeatInterval.ShouldBe(TimeSpan.FromSeconds(0.5));
        SettingsReader.ReadClient(configuration).LoadBalance.ShouldBe(LoadBalanceStrategy.RoundRobin);
    }

    [Test]
    public void Override_file_replaces_only_the_keys_it_names()
    {
        string overrides = Path.Combine(_directory, "slow.ini");
        File.WriteAllText(overrides, "[registry]\nheartbeat_timeout = 6\n\n[client]\ncall_timeout = 20\n");

        ScenarioTimings timings = ScenarioTimings.Load(overrides);

        timings.Seconds("registry:heartbeat_timeout").ShouldBe(TimeSpan.FromSeconds(6));
        timings.Seconds("client:call_timeout").ShouldBe(TimeSpan.FromSeconds(20));
        timings.Seconds("server:heartbeat_interval").ShouldBe(TimeSpan.FromSeconds(0.5));
        timings.Source.ShouldBe(Path.GetFullPath(overrides));
    }

    [Test]
    public void Missing_override_file_is_a_configuration_error_naming_it()
    {
        string missing = Path.Combine(_directory, "nope.ini");

        Should.Throw<ConfigurationException>(() => ScenarioTimings.Load(missing)).Message.ShouldContain("nope.ini");
    }
}
