using System.Text.Json;
using Lab.Scenarios;

namespace Lab.Tests.Scenarios;

public class ScenarioReportTests
{
    private static readonly ScenarioResult[] Results =
    [
        new("happy-path", "lab requirements §1: the main demo", ScenarioOutcome.Pass, null, TimeSpan.FromSeconds(2.3), ["+  0.00s  step   started registry"], [1]),
        new("graceful-stop", "lab requirements §1/§5: graceful stop", ScenarioOutcome.Fail, "the server exited with code 1", TimeSpan.FromSeconds(4), ["+  1.00s  check  [FAIL] exit | code"], [2]),
    ];

    [Test]
    public void Summary_table_lists_each_scenario_with_its_verdict_and_the_totals()
    {
        using var output = new StringWriter();

        ScenarioReport.WriteSummary(output, Results, TimeSpan.FromSeconds(6.3));

        string text = output.ToString();
        text.ShouldContain("happy-path     PASS      2.3s");
        text.ShouldContain("graceful-stop  FAIL      4.0s  the server exited with code 1");
        text.ShouldContain("1 passed, 1 failed, 0 skipped in 6.3 s");
    }

    [Test]
    public void Save_writes_markdown_with_every_narration_and_a_json_twin()
    {
        string directory = Directory.CreateTempSubdirectory("rpclab-report-test-").FullName;
        try
        {
            (string markdown, string json) = ScenarioReport.Save(Results, TimeSpan.FromSeconds(6.3), Path.Combine(directory, "nested", "run1"));

            markdown.ShouldEndWith("run1.md");
            json.ShouldEndWith("run1.json");
            string text = File.ReadAllText(markdown);
            text.ShouldContain("| graceful-stop | FAIL | 4.0 s | lab requirements §1/§5: graceful stop | the server exited with code 1 |");
            text.ShouldContain("## graceful-stop: FAIL: the server exited with code 1");
            text.ShouldContain("+  1.00s  check  [FAIL] exit | code");
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(json));
            document.RootElement.GetProperty("failed").GetInt32().ShouldBe(1);
            document.RootElement.GetProperty("scenarios")[1].GetProperty("outcome").GetString().ShouldBe("FAIL");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
