namespace Lab.ClientApp;

/// <summary>
/// Counts calls succeeded and failed, per server, for the summaries the demo and duration modes end
/// with. Safe to update from any number of concurrent calls: <see cref="_gate"/> guards the counts
/// (a call takes far longer than the lock, so it is never contended for long).
/// </summary>
public sealed class CallTally
{
    private readonly Lock _gate = new();
    private readonly SortedDictionary<string, (long Succeeded, long Failed)> _byServer = new(StringComparer.Ordinal);
    private long _succeeded;
    private long _failed;

    public long TotalSucceeded
    {
        get
        {
            lock (_gate)
                return _succeeded;
        }
    }

    public long TotalFailed
    {
        get
        {
            lock (_gate)
                return _failed;
        }
    }

    public void Failed(string server) => Record(server, succeeded: false);

    public void Record(string server, bool succeeded)
    {
        lock (_gate)
        {
            (long ok, long failed) = _byServer.GetValueOrDefault(server);
            _byServer[server] = succeeded ? (ok + 1, failed) : (ok, failed + 1);
            _ = succeeded ? ++_succeeded : ++_failed;
        }
    }

    /// <summary><c>Summary: N succeeded, M failed</c>, then one line per server, in server order.</summary>
    public void WriteSummary(TextWriter output)
    {
        lock (_gate)
        {
            output.WriteLine($"Summary: {_succeeded} succeeded, {_failed} failed");
            foreach ((string server, (long ok, long failed)) in _byServer)
                output.WriteLine($"  {server}: {ok} succeeded, {failed} failed");
        }
    }
}
