using Lab.Protocol.Messages;

namespace Lab.Client;

// The typed errors a call can end with (lab requirements §7, client rows). Each transport failure names its phase
// and the server, so "it failed" always says where and when: connecting, writing the request,
// waiting for the server to process it, or reading the reply. The original lab raised bare socket
// errors, and a failed call was indistinguishable from a string result.

/// <summary>Base of every error an <see cref="RpcClient"/> call raises.</summary>
public abstract class RpcException(string message, string? server, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The server involved (<c>host:port</c>), when there was one.</summary>
    public string? Server { get; } = server;
}

/// <summary>A failure of the connection to one server. <see cref="RequestSent"/> decides failover: a request
/// that never left this machine may safely go to another server; one that was sent may already have
/// run there.</summary>
public abstract class RpcTransportException(string server, string message, Exception? inner = null)
    : RpcException(message, server, inner)
{
    /// <summary>True when the server may have received the whole request (and so may have run it).</summary>
    public abstract bool RequestSent { get; }
}

/// <summary>Connecting to the server failed: refused, unreachable, or over <c>connect_timeout</c>.</summary>
public sealed class RpcConnectException(string server, string message, Exception? inner = null)
    : RpcTransportException(server, $"connecting to {server} failed: {message}", inner)
{
    public override bool RequestSent => false;
}

/// <summary>Writing the request failed (the connection broke) or took longer than <c>write_timeout</c>
/// (a server that does not read). A request cut short is never run: the server only runs complete messages.</summary>
public sealed class RpcWriteException(string server, string message, Exception? inner = null)
    : RpcTransportException(server, $"writing the request to {server} failed: {message}", inner)
{
    public override bool RequestSent => false;
}

/// <summary>The request was sent but no reply came within <c>call_timeout</c> (a hung or overloaded server).</summary>
public sealed class RpcCallTimeoutException(string server, TimeSpan timeout)
    : RpcTransportException(server, $"no reply from {server} within the call timeout of {timeout.TotalSeconds:0.###} s")
{
    public override bool RequestSent => true;
}

/// <summary>Reading the reply failed: the server closed the connection before or during its reply, the rest
/// of a started reply took longer than <c>read_timeout</c>, or the bytes were not a valid reply.</summary>
public sealed class RpcReadException(string server, string message, Exception? inner = null)
    : RpcTransportException(server, $"reading the reply from {server} failed: {message}", inner)
{
    public override bool RequestSent => true;
}

/// <summary>The server answered ServerBusy: all its method slots were taken, so the method never ran there. In
/// registry mode the call moves to another instance (the busy one stays in the cache).</summary>
public sealed class RpcServerBusyException(string server, string method, string remoteMessage)
    : RpcTransportException(server, $"{method} on {server} refused: ServerBusy: {remoteMessage}")
{
    public override bool RequestSent => false;
}

/// <summary>The server answered with an error reply (<c>{"error": {"code": ..., "message": ...}}</c>): the
/// method does not exist, the arguments did not bind, or the method itself failed.</summary>
public sealed class RpcRemoteException : RpcException
{
    public RpcRemoteException(string server, string method, RpcErrorCode code, string remoteMessage)
        : base($"{method} on {server} failed: {code}: {remoteMessage}", server)
    {
        Method = method;
        Code = code;
        RemoteMessage = remoteMessage;
    }

    public string Method { get; }

    /// <summary>The reply's <c>error.code</c>.</summary>
    public RpcErrorCode Code { get; }

    /// <summary>The reply's <c>error.message</c>, exactly as the server wrote it.</summary>
    public string RemoteMessage { get; }
}

/// <summary>The whole call took longer than <c>call_deadline</c>: the servers it tried were slow to connect or
/// failed one after another (in registry mode), or a phase's own timeouts added up past it. Whether the
/// last server ran the method is unknown. <see cref="Exception.InnerException"/> is the last failure before it, if any.</summary>
public sealed class RpcCallDeadlineException(string? server, TimeSpan deadline, int serversTried, Exception? inner = null)
    : RpcException($"the call did not finish within call_deadline ({deadline.TotalSeconds:0.###} s); servers tried: {serversTried}"
                   + (server is null ? "" : $", the last {server}") + (inner is null ? "" : $"; before that: {inner.Message}"), server, inner);

/// <summary>No server could take the call: the registry lists none, or every listed instance failed before the
/// request was sent. <see cref="Exception.InnerException"/> is the last instance's failure, if any.</summary>
public sealed class NoServerAvailableException(string message, Exception? inner = null) : RpcException(message, null, inner);
