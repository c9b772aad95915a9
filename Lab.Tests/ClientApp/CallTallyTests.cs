using Lab.ClientApp;

namespace Lab.Tests.ClientApp;

public class CallTallyTests
{
    [Test]
    public void The_summary_gives_totals_then_one_line_per_server()
    {
        var tally = new CallTally();
        tally.Record("127.0.0.1:8090", succeeded: true);
        tally.Record("127.0.0.1:8089", succeeded: true);
        tally.Record("127.0.0.1:8089", succeeded: true);
        tally.Failed("127.0.0.1:8090");
        var output = new StringWriter();

        tally.WriteSummary(output);

        output.ToString().ShouldBe(
            "Summary: 3 succeeded, 1 failed\n" +
            "  127.0.0.1:8089: 2 succeeded, 0 failed\n" +
            "  127.0.0.1:8090: 1 succeeded, 1 failed\n");
    }

    [Test]
    public async Task Concurrent_updates_are_all_counted()
    {
        var tally = new CallTally();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(() =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                tally.Record($"server{i % 2}", succeeded: true);
            }
        })));

        tally.TotalSucceeded.ShouldBe(40_000);
        tally.TotalFailed.ShouldBe(0);
    }
}
