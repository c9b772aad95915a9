using System.Diagnostics;
using Lab.Bench;

namespace Lab.Tests.Bench;

public class LatencyHistogramTests
{
    [Test]
    public void Percentiles_of_a_uniform_spread_are_within_the_bucket_precision()
    {
        var histogram = new LatencyHistogram();
        long microsecond = Stopwatch.Frequency / 1_000_000;
        for (int i = 1; i <= 1000; i++)
        {
            histogram.Record(i * 10 * microsecond);
        }

        histogram.Count.ShouldBe(1000);
        histogram.PercentileMicroseconds(50).ShouldBe(5000, tolerance: 5000 / 64.0);
        histogram.PercentileMicroseconds(90).ShouldBe(9000, tolerance: 9000 / 64.0);
        histogram.PercentileMicroseconds(99).ShouldBe(9900, tolerance: 9900 / 64.0);
    }

    [Test]
    public void Buckets_are_contiguous_and_each_value_lies_inside_its_bucket()
    {
        int previous = -1;
        for (long value = 0; value < 1 << 20; value += 1 + (value / 50))
        {
            int bucket = LatencyHistogram.BucketOf(value);
            bucket.ShouldBeGreaterThanOrEqualTo(previous);
            previous = bucket;
            double midpoint = LatencyHistogram.MidpointOf(bucket);
            Math.Abs(midpoint - value).ShouldBeLessThanOrEqualTo(Math.Max(1, value / 64.0), $"value {value}");
        }
    }

    [Test]
    public void Added_histograms_count_both_sets_of_values()
    {
        var first = new LatencyHistogram();
        var second = new LatencyHistogram();
        first.Record(100);
        second.Record(100_000);
        second.Record(100_000);

        first.Add(second);

        first.Count.ShouldBe(3);
        first.PercentileMicroseconds(100).ShouldBe(LatencyHistogram.TicksToMicroseconds(100_000), tolerance: LatencyHistogram.TicksToMicroseconds(100_000) / 64);
    }

    [Test]
    public void Empty_histogram_reports_zero_and_huge_values_do_not_overflow()
    {
        var histogram = new LatencyHistogram();
        histogram.PercentileMicroseconds(50).ShouldBe(0);

        histogram.Record(long.MaxValue);
        histogram.Record(-5);

        histogram.Count.ShouldBe(2);
        histogram.PercentileMicroseconds(100).ShouldBeGreaterThan(0);
    }
}
