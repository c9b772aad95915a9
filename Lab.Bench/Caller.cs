namespace Lab.Bench;

/// <summary>
/// One simulated client making calls one after another: over the raw wire (<see cref="RawWireCaller"/>)
/// or through <c>RpcClient</c>. <see cref="LoadRun"/> times each <see cref="CallAsync"/>.
/// </summary>
/// <remarks>Concurrency: one caller per worker; a caller is never used by two workers at once.</remarks>
public abstract class Caller : IAsyncDisposable
{
    /// <summary>Sets up what the caller keeps between calls (a connection) before the clock starts.</summary>
    public virtual ValueTask OpenAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Makes one call and checks its reply.</summary>
    /// <exception cref="Exception">Any failure: the call counts as an error.</exception>
    public abstract ValueTask CallAsync(CancellationToken cancellationToken);

    /// <summary>Drops any state a failed call may have left broken (a half-read connection).</summary>
    public virtual void Abandon()
    {
    }

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
