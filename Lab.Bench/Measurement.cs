namespace Lab.Bench;

/// <summary>
/// The repeated runs of one workload against one target, summarised as their median: a single
/// noisy run on a shared 2-core machine must not decide a verdict.
/// </summary>
/// <param name="Workload">What load was applied.</param>
/// <param name="Target">What it was applied to.</param>
/// <param name="Runs">Each run's result, in order.</param>
/// <param name="PeakWorkingSetBytes">Largest working set of the target sampled during the windows, when sampled.</param>
public sealed record Measurement(Workload Workload, Target Target, IReadOnlyList<LoadResult> Runs, long? PeakWorkingSetBytes)
{
    public double CallsPerSecond => Median(Runs.Select(run => run.CallsPerSecond));

    public double P50Microseconds => Median(Runs.Select(run => run.P50Microseconds));

    public double P90Microseconds => Median(Runs.Select(run => run.P90Microseconds));

    public double P99Microseconds => Median(Runs.Select(run => run.P99Microseconds));

    /// <summary>Errors of all runs together: one failed call in any run is one too many.</summary>
    public long Errors => Runs.Sum(run => run.Errors);

    public string? FirstError => Runs.Select(run => run.FirstError).FirstOrDefault(error => error is not null);

    /// <summary>How a target is named in the table.</summary>
    public string TargetName => Target switch
    {
        Target.Floor => "floor",
        Target.Server => "Lab.Server",
        Target.ServerWarningLog => "Lab.Server, log Warning",
        Target.ServerTwin => "Lab.Server, twin (control)",
        Target.RpcClientTyped => "RpcClient.CallAsync -> Lab.Server",
        Target.RpcClientDynamic => "RpcClient dynamic -> Lab.Server",
        _ => Target.ToString(),
    };

    public static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        if (sorted.Length == 0)
        {
            return 0;
        }

        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}

/// <summary>One performance goal of the benchmark and whether this run met it.</summary>
/// <param name="Name">The goal in words.</param>
/// <param name="Measured">What was measured, e.g. <c>1.23x floor</c>.</param>
/// <param name="Limit">The bound, e.g. <c>&lt;= 1.5x</c>.</param>
/// <param name="Pass">Whether the goal holds.</param>
public sealed record GoalResult(string Name, string Measured, string Limit, bool Pass);
