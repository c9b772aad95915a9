using Lab.Scenarios;

namespace Lab.Tests.Scenarios;

public class RubricTests
{
    private static readonly string[] Names = ["happy-path", "direct-mode", "discovery", "large-message"];

    private string _path = null!;

    [SetUp]
    public void CreatePath() => _path = Path.Combine(Path.GetTempPath(), $"rubric-{Guid.NewGuid():N}.ini");

    [TearDown]
    public void DeleteFile() => File.Delete(_path);

    [Test]
    public void A_pass_earns_its_points_a_fail_loses_them_and_a_skip_is_not_counted()
    {
        File.WriteAllText(_path, "; points per scenario\n[points]\nhappy-path = 40\ndirect-mode = 20\n# a comment\ndiscovery = 25\nlarge-message = 15\n");
        Rubric rubric = Rubric.Load(_path, Names);

        IReadOnlyList<string> score = rubric.Score([Result("happy-path", ScenarioOutcome.Pass), Result("direct-mode", ScenarioOutcome.Fail, "exit code 1"),
            Result("discovery", ScenarioOutcome.Skip, "cannot grade"), Result("large-message", ScenarioOutcome.Pass)]);

        score.ShouldBe(["  -20 direct-mode: exit code 1", "score: 55 / 75 (1 skipped scenario(s) not counted)"]);
    }

    [Test]
    public void A_scenario_the_rubric_does_not_name_is_worth_nothing()
    {
        File.WriteAllText(_path, "happy-path = 10\n");

        Rubric.Load(_path, Names).Score([Result("happy-path", ScenarioOutcome.Pass), Result("discovery", ScenarioOutcome.Fail, "x")])
            .ShouldBe(["score: 10 / 10"]);
    }

    [TestCase("happy-path = ten", "expected \"scenario-name = points\" (a whole number), got \"happy-path = ten\"")]
    [TestCase("no-such-scenario = 5", "\"no-such-scenario\" is not a scenario (--list shows the names)")]
    public void A_bad_line_is_an_error_naming_the_file_and_line(string line, string message)
    {
        File.WriteAllText(_path, $"happy-path = 1\n{line}\n");

        Should.Throw<FormatException>(() => Rubric.Load(_path, Names)).Message.ShouldBe($"{_path}:2: {message}");
    }

    [Test]
    public void The_shipped_sample_rubric_names_only_real_scenarios_and_totals_100()
    {
        string sample = Path.Combine(ScenarioTestSupport.Programs.RepositoryRoot, "Lab.Scenarios", "rubric.ini");

        Rubric rubric = Rubric.Load(sample, ScenarioCatalog.All.Select(scenario => scenario.Name));

        rubric.Points.Values.Sum().ShouldBe(100);
    }

    private static ScenarioResult Result(string name, ScenarioOutcome outcome, string? reason = null) =>
        new(name, "lab requirements §9", outcome, reason, TimeSpan.FromSeconds(1), [], []);
}
