using System.Diagnostics;
using System.Numerics;

namespace Lab.Bench;

/// <summary>
/// Counts call latencies in log-linear buckets (the idea of an HDR histogram), so recording one
/// call is a few bit operations and an increment — no allocation, no sorting, no lock.
/// </summary>
/// <remarks>
/// <para>
/// No lab class. Values are <see cref="Stopwatch.GetTimestamp"/> differences. Values below 64 ticks
/// get a bucket each; above that, every power of two is split into 64 buckets, so any value is
/// reported within 1/64 (1.6 %) of the truth. Recording into a preallocated array keeps the
/// measurement from distorting the hot path it measures.
/// </para>
/// <para>Concurrency: one histogram per worker; merge them with <see cref="Add"/> after the run.</para>
/// <example>
/// <code>
/// var histogram = new LatencyHistogram();
/// histogram.Record(Stopwatch.GetTimestamp() - started);
/// double p99 = histogram.PercentileMicroseconds(99);
/// </code>
/// </example>
/// </remarks>
public sealed class LatencyHistogram
{
    private const int SubBucketBits = 6;
    private const int SubBucketCount = 1 << SubBucketBits;

    // Up to 2^44 ticks (about 4.9 hours at 1 ns per tick); longer values land in the last bucket.
    private const int MaxExponent = 44;
    private const int BucketCount = SubBucketCount + ((MaxExponent - SubBucketBits + 1) * SubBucketCount);

    private readonly long[] _counts = new long[BucketCount];

    /// <summary>Number of values recorded.</summary>
    public long Count { get; private set; }

    /// <summary>Records one latency, in Stopwatch ticks.</summary>
    public void Record(long ticks)
    {
        _counts[BucketOf(ticks)]++;
        Count++;
    }

    /// <summary>Adds another histogram's counts to this one.</summary>
    public void Add(LatencyHistogram other)
    {
        for (int i = 0; i < BucketCount; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
    }

    /// <summary>The latency below which <paramref name="percent"/> % of the values lie, in microseconds; 0 when empty.</summary>
    public double PercentileMicroseconds(double percent)
    {
        if (Count == 0)
        {
            return 0;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(percent / 100.0 * Count));
        long seen = 0;
        for (int i = 0; i < BucketCount; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return TicksToMicroseconds(MidpointOf(i));
            }
        }

        return TicksToMicroseconds(MidpointOf(BucketCount - 1));
    }

    /// <summary>Converts Stopwatch ticks to microseconds.</summary>
    public static double TicksToMicroseconds(double ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    internal static int BucketOf(long ticks)
    {
        ulong value = (ulong)Math.Max(ticks, 0);
        if (value < SubBucketCount)
        {
            return (int)value;
        }

        int exponent = 63 - BitOperations.LeadingZeroCount(value);
        if (exponent > MaxExponent)
        {
            return BucketCount - 1;
        }

        int shift = exponent - SubBucketBits;
        // The top SubBucketBits+1 bits of the value, minus its leading one, pick the sub-bucket.
        int subBucket = (int)((value >> shift) & (SubBucketCount - 1));
        return SubBucketCount + (shift * SubBucketCount) + subBucket;
    }

    internal static double MidpointOf(int bucket)
    {
        if (bucket < SubBucketCount)
        {
            return bucket;
        }

        int shift = (bucket - SubBucketCount) / SubBucketCount;
        int subBucket = (bucket - SubBucketCount) % SubBucketCount;
        double lower = (double)(SubBucketCount + subBucket) * (1L << shift);
        double width = 1L << shift;
        return lower + ((width - 1) / 2);
    }
}
