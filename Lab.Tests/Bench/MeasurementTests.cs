using System.Diagnostics;
using Lab.Bench;

namespace Lab.Tests.Bench;

public class MeasurementTests
{
    [Test]
    public void Figures_are_the_median_of_the_runs_and_errors_their_sum()
    {
        Measurement measurement = new(Workload.PersistentTen, Target.Server,
            [Run(callsPerSecond: 900, errors: 1), Run(callsPerSecond: 100, errors: 0), Run(callsPerSecond: 500, errors: 2)], null);

        measurement.CallsPerSecond.ShouldBe(500);
        measurement.Errors.ShouldBe(3);
    }

    [Test]
    public void Median_of_an_even_count_is_the_mean_of_the_middle_two()
    {
        Measurement.Median([4, 1, 3, 2]).ShouldBe(2.5);
        Measurement.Median([]).ShouldBe(0);
    }

    internal static LoadResult Run(double callsPerSecond, long errors = 0, double latencyMicroseconds = 100)
    {
        var latency = new LatencyHistogram();
        latency.Record((long)(latencyMicroseconds * Stopwatch.Frequency / 1_000_000));
        return new LoadResult((long)callsPerSecond, errors, 1, latency, errors > 0 ? "call failed: test" : null);
    }
}
