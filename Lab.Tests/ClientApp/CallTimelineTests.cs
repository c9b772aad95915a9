using Lab.ClientApp;
using Microsoft.Extensions.Time.Testing;

namespace Lab.Tests.ClientApp;

// The duration run's figures on a fake clock: longest gap without a completed call, and latency per phase.
[Parallelizable(ParallelScope.All)]
public class CallTimelineTests
{
    [Test]
    public void Each_phase_gets_its_calls_percentiles_and_longest_gap()
    {
        var clock = new FakeTimeProvider();
        var timeline = new CallTimeline(clock);
        for (int i = 1; i <= 100; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(10));
            timeline.Completed(TimeSpan.FromMilliseconds(i));
        }

        clock.Advance(TimeSpan.FromMilliseconds(500));
        timeline.StartPhase("frozen");
        clock.Advance(TimeSpan.FromMilliseconds(2000));   // no call completes for 2.5 s in all
        timeline.Completed(TimeSpan.FromMilliseconds(2400));
        clock.Advance(TimeSpan.FromMilliseconds(100));
        timeline.Completed(TimeSpan.FromMilliseconds(4));

        string summary = Summary(timeline);

        summary.ShouldBe("""
            Longest gap without a completed call: 2.50 s
            Phase start (from 0.0 s): 100 calls, p50 50.00 ms, p99 99.00 ms, max 100.00 ms, longest gap 0.01 s
            Phase frozen (from 1.5 s): 2 calls, p50 4.00 ms, p99 2400.00 ms, max 2400.00 ms, longest gap 2.50 s

            """.ReplaceLineEndings());
    }

    [Test]
    public void Calls_that_stop_completing_before_the_end_count_as_a_gap_up_to_the_summary()
    {
        var clock = new FakeTimeProvider();
        var timeline = new CallTimeline(clock);
        clock.Advance(TimeSpan.FromMilliseconds(200));
        timeline.Completed(TimeSpan.FromMilliseconds(1));
        clock.Advance(TimeSpan.FromSeconds(4));

        Summary(timeline).ShouldStartWith("Longest gap without a completed call: 4.00 s");
    }

    [Test]
    public void A_run_without_calls_prints_zeroes_not_an_error()
    {
        var clock = new FakeTimeProvider();
        var timeline = new CallTimeline(clock);
        clock.Advance(TimeSpan.FromSeconds(1));

        Summary(timeline).ShouldBe("""
            Longest gap without a completed call: 1.00 s
            Phase start (from 0.0 s): 0 calls, p50 0.00 ms, p99 0.00 ms, max 0.00 ms, longest gap 1.00 s

            """.ReplaceLineEndings());
    }

    private static string Summary(CallTimeline timeline)
    {
        using var output = new StringWriter();
        timeline.WriteSummary(output);
        return output.ToString();
    }
}
