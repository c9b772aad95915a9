using System.Collections.Concurrent;

namespace Lab.Client.Cli;

/// <summary>Counts calls succeeded and failed, per server, for the summaries the demo and duration modes end
/// with. Safe to update from any number of concurrent calls.</summary>
/// <example><code>
/// tally.Succeeded("127.0.0.1:8089");
/// tally.WriteSummary(Console.Out);   // Summary: 1 succeeded, 0 failed / "  127.0.0.1:8089: 1 succeeded, 0 failed"
/// </code></example>
public sealed class CallTally
{
    private readonly ConcurrentDictionary<string, Counts> _byServer = new(StringComparer.OrdinalIgnoreCase);
    private long _succeeded;
    private long _failed;

    public long TotalSucceeded => Interlocked.Read(ref _succeeded);

    public long TotalFailed => Interlocked.Read(ref _failed);

    public void Succeeded(string server)
    {
        Interlocked.Increment(ref _succeeded);
        Interlocked.Increment(ref _byServer.GetOrAdd(server, _ => new Counts()).Succeeded);
    }

    public void Failed(string server)
    {
        Interlocked.Increment(ref _failed);
        Interlocked.Increment(ref _byServer.GetOrAdd(server, _ => new Counts()).Failed);
    }

    /// <summary><c>Summary: N succeeded, M failed</c>, then one line per server, in server order.</summary>
    public void WriteSummary(TextWriter output)
    {
        output.WriteLine($"Summary: {TotalSucceeded} succeeded, {TotalFailed} failed");
        foreach ((string server, Counts counts) in _byServer.OrderBy(pair => pair.Key, StringComparer.Ordinal))
            output.WriteLine($"  {server}: {Interlocked.Read(ref counts.Succeeded)} succeeded, {Interlocked.Read(ref counts.Failed)} failed");
    }

    private sealed class Counts
    {
        public long Succeeded;
        public long Failed;
    }
}
