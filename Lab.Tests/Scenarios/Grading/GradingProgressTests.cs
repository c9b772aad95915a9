using Lab.Scenarios.Grading;
using Microsoft.Extensions.Time.Testing;

namespace Lab.Tests.Scenarios.Grading;

[Parallelizable(ParallelScope.All)]
public class GradingProgressTests
{
    [Test]
    public void Before_any_scenario_ends_there_is_no_estimate()
    {
        var output = new StringWriter();
        var progress = new GradingProgress(students: 3, scenariosEach: 4, output, new FakeTimeProvider());

        progress.Started("alice");

        output.ToString().ShouldBe("[grading 0:00] 0 done, 1 running (alice 0/4), 2 left; no estimate yet  <- alice started" + Environment.NewLine);
    }

    [Test]
    public void The_time_to_go_is_the_scenarios_left_at_the_rate_scenarios_were_done()
    {
        var time = new FakeTimeProvider();
        var output = new StringWriter();
        var progress = new GradingProgress(students: 3, scenariosEach: 4, output, time);
        progress.Started("alice");
        progress.Started("bob");

        time.Advance(TimeSpan.FromSeconds(60));
        progress.ChildLine("alice", "[3/4] graceful-stop  elapsed 0:41, about 0:10 left");
        progress.ChildLine("bob", "[2/4] discovery  elapsed 0:20, about 0:40 left");

        // 3 of 12 scenarios in 60 s: the 9 left take 180 s.
        progress.Line().ShouldBe("[grading 1:00] 0 done, 2 running (alice 2/4, bob 1/4), 1 left; about 3:00 to go");
        time.Advance(TimeSpan.FromSeconds(20));
        progress.Finished("alice", "83 / 100");
        // 5 of 12 in 80 s: the 7 left take 112 s.
        progress.Line().ShouldBe("[grading 1:20] 1 done, 1 running (bob 1/4), 1 left; about 1:52 to go");
    }

    [Test]
    public void Between_students_starting_and_ending_a_line_is_printed_at_most_every_quiet_period()
    {
        var time = new FakeTimeProvider();
        var output = new StringWriter();
        var progress = new GradingProgress(students: 1, scenariosEach: 9, output, time);
        progress.Started("alice");

        progress.ChildLine("alice", "[2/9] direct-mode  elapsed 0:01, about 0:08 left");
        progress.ChildLine("alice", "=== direct-mode ===");
        time.Advance(GradingProgress.QuietPeriod);
        progress.ChildLine("alice", "[3/9] discovery  elapsed 0:10, about 0:30 left");

        output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries).ShouldBe(
        [
            "[grading 0:00] 0 done, 1 running (alice 0/9), 0 left; no estimate yet  <- alice started",
            "[grading 0:10] 0 done, 1 running (alice 2/9), 0 left; about 0:35 to go",
        ]);
    }
}
