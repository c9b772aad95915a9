using Lab.Hosting;
using Lab.Protocol.Settings;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Hosting;

/// <summary>Typed reading of one <c>[section]</c>: each value type, its limits and its error message.</summary>
[Parallelizable(ParallelScope.All)]
public class ConfigSectionTests
{
    // Values come in as command-line flags over an empty file, so every error names its source the same way.
    private static readonly TestConfigFiles ConfigFiles = new();
    private static readonly string EmptyFile = ConfigFiles.Write("section", "");

    [OneTimeTearDown]
    public void DeleteFiles() => ConfigFiles.Dispose();

    [TestCase("8089", 8089)]
    [TestCase(" 42 ", 42)]
    [TestCase("", 7)]
    public void GetInt_reads_whole_numbers_and_empty_means_default(string raw, int expected)
    {
        Section(raw).GetInt("key", 7, 0, 65535).ShouldBe(expected);
    }

    [TestCase("abc", "is not a whole number")]
    [TestCase("1.5", "is not a whole number")]
    [TestCase("65536", "must be between 0 and 65535")]
    [TestCase("-1", "must be between 0 and 65535")]
    public void GetInt_refuses_bad_values_naming_section_key_and_value(string raw, string problem)
    {
        Should.Throw<ConfigurationException>(() => Section(raw).GetInt("key", 7, 0, 65535))
            .Message.ShouldBe($"command line: [test] key = \"{raw}\" {problem}");
    }

    [TestCase("0.2", 200)]
    [TestCase("5", 5000)]
    [TestCase("1e1", 10000)]
    [TestCase("", 3000)]
    public void GetSeconds_reads_decimal_seconds(string raw, int expectedMilliseconds)
    {
        Section(raw).GetSeconds("key", 3).ShouldBe(TimeSpan.FromMilliseconds(expectedMilliseconds));
    }

    [TestCase("abc", "is not a number of seconds")]
    [TestCase("NaN", "is not a number of seconds")]
    [TestCase("Infinity", "is not a number of seconds")]
    [TestCase("0", "must be a positive number of seconds up to one day")]
    [TestCase("-2", "must be a positive number of seconds up to one day")]
    [TestCase("86401", "must be a positive number of seconds up to one day")]
    public void GetSeconds_refuses_non_numbers_and_non_positive_or_huge_durations(string raw, string problem)
    {
        Should.Throw<ConfigurationException>(() => Section(raw).GetSeconds("key", 3))
            .Message.ShouldBe($"command line: [test] key = \"{raw}\" {problem}");
    }

    [Test]
    public void GetSeconds_accepts_zero_where_zero_means_off()
    {
        Section("0").GetSeconds("key", 3, allowZero: true).ShouldBe(TimeSpan.Zero);
        Should.Throw<ConfigurationException>(() => Section("-1").GetSeconds("key", 3, allowZero: true))
            .Message.ShouldContain("must be 0 (off) or a positive number of seconds");
    }


    [TestCase("round_robin", LoadBalanceStrategy.RoundRobin)]
    [TestCase("weighted-random", LoadBalanceStrategy.WeightedRandom)]
    [TestCase("RANDOM", LoadBalanceStrategy.Random)]
    [TestCase("", LoadBalanceStrategy.Random)]
    public void GetEnum_reads_snake_case_kebab_case_and_any_letter_case(string raw, LoadBalanceStrategy expected)
    {
        Section(raw).GetEnum("key", LoadBalanceStrategy.Random).ShouldBe(expected);
    }

    [TestCase("fastest")]
    [TestCase("1")]
    [TestCase("-1")]
    public void GetEnum_refuses_unknown_words_and_numbers_listing_the_allowed_words(string raw)
    {
        Should.Throw<ConfigurationException>(() => Section(raw).GetEnum("key", LoadBalanceStrategy.Random))
            .Message.ShouldBe($"command line: [test] key = \"{raw}\" must be one of: random, round_robin, weighted_random");
    }

    [Test]
    public void Log_level_is_read_by_its_lower_case_name()
    {
        SettingsReader.ReadLogging(LabConfiguration.Load(EmptyFile, [new("logging:level", "debug")])).Level.ShouldBe(LogLevel.Debug);
    }

    [Test]
    public void Error_from_a_file_names_the_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rpclab-section-{Guid.NewGuid():N}.ini");
        File.WriteAllText(path, "[client]\nload_balance = fastest\n");
        try
        {
            Should.Throw<ConfigurationException>(() => SettingsReader.ReadClient(LabConfiguration.Load(path)))
                .Message.ShouldStartWith($"{Path.GetFileName(path)}: [client] load_balance = \"fastest\" must be one of:");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static ConfigSection Section(string raw) =>
        LabConfiguration.Load(EmptyFile, [new("test:key", raw)]).Section("test");
}
