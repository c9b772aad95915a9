using Lab.Scenarios;
using Lab.Scenarios.Grading;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Scenarios.Grading;

[Parallelizable(ParallelScope.All)]
public class GradebookTests
{
    private static readonly string[] Scenarios = ["happy-path", "discovery", "timeout-method"];

    [Test]
    public void A_row_earns_the_points_of_its_passes_and_leaves_its_skips_out_of_the_total()
    {
        using var folder = new TemporaryFolder();
        GradebookRow row = Gradebook.Row(Alice(), Scenarios, Rubric(folder), [Result("happy-path", ScenarioOutcome.Pass), Result("discovery", ScenarioOutcome.Fail, "wrong list"),
            Result("timeout-method", ScenarioOutcome.Skip, "cannot grade")], note: null, TimeSpan.FromSeconds(42));

        row.Cells.Select(cell => (cell.Scenario, cell.Outcome, cell.Points)).ShouldBe([("happy-path", "PASS", 10), ("discovery", "FAIL", 4), ("timeout-method", "SKIP", 4)]);
        row.Earned.ShouldBe(10);
        row.Possible.ShouldBe(14);
        row.Programs.ShouldBe("registry: ours, server: theirs, client: ours");
    }

    [Test]
    public void A_scenario_the_grader_never_reported_counts_as_failed_with_the_note()
    {
        using var folder = new TemporaryFolder();
        GradebookRow row = Gradebook.Row(Alice(), Scenarios, Rubric(folder), [Result("happy-path", ScenarioOutcome.Pass)], "interrupted", TimeSpan.Zero);

        row.Cells.Skip(1).ShouldAllBe(cell => cell.Outcome == "FAIL" && cell.Reason == "interrupted");
        row.Possible.ShouldBe(18);
    }

    [Test]
    public void The_csv_has_a_column_per_scenario_with_its_points_and_quotes_what_needs_it()
    {
        using var folder = new TemporaryFolder();
        var book = new Gradebook(Scenarios, Rubric(folder), [Row(folder, "alice", note: null), Row(folder, "bob, jr.", note: "the grader stopped after 1 of 3 scenarios")], []);

        book.Csv().ShouldBe("""
            student,happy-path (10),discovery (4),timeout-method (4),total,possible,note
            alice,10,0,,10,14,
            "bob, jr.",10,0,,10,14,the grader stopped after 1 of 3 scenarios

            """.ReplaceLineEndings());
    }

    [Test]
    public void The_html_page_links_each_cell_to_its_log_and_each_student_to_the_report_with_the_reason_on_hover()
    {
        using var folder = new TemporaryFolder();
        var book = new Gradebook(Scenarios, Rubric(folder), [Row(folder, "alice", note: null)], ["graded <today>"]);

        string html = book.Html();

        html.ShouldContain("<p>graded &lt;today&gt;</p>");
        html.ShouldContain("<a href=\"alice/report.md\">alice</a>");
        html.ShouldContain("<td class=\"PASS\" title=\"PASS\"><a href=\"alice/logs/happy-path.log\">10</a></td>");
        html.ShouldContain("<td class=\"FAIL\" title=\"FAIL: wrong list &lt;3&gt;\"><a href=\"alice/logs/discovery.log\">0</a></td>");
        html.ShouldContain("<td class=\"SKIP\" title=\"SKIP: cannot grade\"><a href=\"alice/logs/timeout-method.log\">skip</a></td>");
        html.ShouldContain("<td>10 / 14</td>");
    }

    [Test]
    public void A_gradebook_saved_in_a_folder_gives_its_rows_back_to_the_next_run()
    {
        using var folder = new TemporaryFolder();
        var book = new Gradebook(Scenarios, Rubric(folder), [Row(folder, "alice", note: null)], []);

        IReadOnlyList<string> paths = book.Save(folder.Path);

        paths.Select(Path.GetFileName).ShouldBe(["gradebook.csv", "gradebook.html", "gradebook.json"]);
        GradebookRow loaded = Gradebook.LoadRows(folder.Path).ShouldHaveSingleItem();
        loaded.Student.ShouldBe("alice");
        loaded.Cells.ShouldBe(book.Rows[0].Cells);
        loaded.Earned.ShouldBe(10);
        Gradebook.LoadRows(Path.Combine(folder.Path, "nothing-here")).ShouldBeEmpty();
    }

    private static Submission Alice() => new("alice", "alice", "/class/alice", new ForeignPrograms(null, "python3 s.py", null), null);

    private static Rubric Rubric(TemporaryFolder folder)
    {
        string path = Path.Combine(folder.Path, "rubric.ini");
        File.WriteAllText(path, "happy-path = 10\ndiscovery = 4\ntimeout-method = 4\n");
        return Lab.Scenarios.Rubric.Load(path, Scenarios);
    }

    private static GradebookRow Row(TemporaryFolder folder, string student, string? note) =>
        Gradebook.Row(Alice() with { Name = student, Slug = student.Split(',')[0] }, Scenarios, Rubric(folder),
            [Result("happy-path", ScenarioOutcome.Pass), Result("discovery", ScenarioOutcome.Fail, "wrong list <3>"), Result("timeout-method", ScenarioOutcome.Skip, "cannot grade")],
            note, TimeSpan.FromSeconds(1));

    private static ScenarioResult Result(string name, ScenarioOutcome outcome, string? reason = null) =>
        new(name, "requirement", outcome, reason, TimeSpan.FromSeconds(1), [], []);
}
