namespace Lab.Client;

/// <summary>Per-call choices for <see cref="RpcClient.CallDetailedAsync{T}"/>.</summary>
public sealed record RpcCallOptions
{
    /// <summary>The defaults: a request that reached a server is never sent again.</summary>
    public static RpcCallOptions Default { get; } = new();

    /// <summary>For methods that are safe to run twice (pure functions such as <c>add</c>).</summary>
    public static RpcCallOptions IdempotentCall { get; } = new() { Idempotent = true };

    /// <summary>True: if the connection breaks after the request was sent (the server died mid-call), the
    /// call is sent again to another instance. Off by default, because the first server may already
    /// have run the method — re-sending a "transfer money" call would run it twice. A call timeout is
    /// never re-sent: that server is alive but slow, and a second copy would only add to its load.</summary>
    public bool Idempotent { get; init; }
}

/// <summary>A call's result and the server that produced it (<c>host:port</c>), for output that shows the load spread.</summary>
public readonly record struct RpcCallResult<T>(T? Value, string Server);
