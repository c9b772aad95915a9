namespace Lab.Bench;

/// <summary>
/// Samples a process's working set at a fixed interval while a load runs and keeps the largest value:
/// the 1,000-connection goal is about the peak, not whatever the last sample happened to be.
/// </summary>
/// <example>
/// <code>
/// var peak = new PeakSampler(server);
/// Task sampling = peak.RunAsync(TimeSpan.FromMilliseconds(100), stop.Token);
/// ... await stop.CancelAsync(); await sampling; Console.WriteLine(peak.PeakBytes);
/// </code>
/// </example>
public sealed class PeakSampler(ChildProcess process)
{
    /// <summary>The largest working set seen, in bytes; null before the first sample.</summary>
    public long? PeakBytes { get; private set; }

    /// <summary>Samples until <paramref name="cancellationToken"/> fires; returns normally then.</summary>
    public async Task RunAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            do
            {
                Sample();
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The load finished: one last sample, so a short run is not missed.
            Sample();
        }
    }

    private void Sample()
    {
        if (process.ReadWorkingSetBytes() is { } bytes && bytes > (PeakBytes ?? 0))
        {
            PeakBytes = bytes;
        }
    }
}
