using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;

namespace Lab.Client.Transport;

/// <summary>The open connections to one server, reused across calls (lab requirements §6; the original lab opened a new
/// TCP connection for every call).</summary>
/// <remarks><para>
/// A call <see cref="RentAsync">rents</see> an idle connection, or opens a new one when none is idle,
/// so several calls run at once on several connections. After the call it is
/// <see cref="ReturnAsync">returned</see>: a healthy connection goes back to the idle stack (at most
/// <c>max_idle_connections_per_server</c> are kept), a broken one is closed.</para>
/// <para>Concurrency: every member may be called concurrently. <see cref="_gate"/> guards <see cref="_idle"/>,
/// <see cref="_open"/> and <see cref="_disposed"/>. Sockets are closed outside the lock.</para>
/// <example><code>
/// var pool = new ConnectionPool("127.0.0.1", 8089, settings, logger);
/// ServerConnection connection = await pool.RentAsync(token);
/// try { await connection.CallAsync(...); } finally { await pool.ReturnAsync(connection); }
/// </code></example></remarks>
public sealed class ConnectionPool(string host, int port, ClientSettings settings, ILogger logger) : IAsyncDisposable
{
    private readonly string _server = HostAddress.Format(host, port);
    private readonly Lock _gate = new();
    private readonly Stack<ServerConnection> _idle = new();
    private readonly HashSet<ServerConnection> _open = [];
    private bool _disposed;

    /// <summary>An idle connection that still looks alive, or a new one. Idle connections the server has
    /// closed meanwhile (it restarted) are dropped here, before any request is written to them.</summary>
    /// <exception cref="RpcConnectException">No idle connection, and opening a new one failed.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public async Task<ServerConnection> RentAsync(CancellationToken cancellationToken = default)
    {
        while (TryTakeIdle() is { } idle)
        {
            if (idle.IsReusable())
                return idle;
            logger.LogDebug("Idle connection to {Server} was closed by the server; dropping it", _server);
            await CloseAsync(idle);
        }

        ServerConnection connection = await ServerConnection.ConnectAsync(host, port, settings, cancellationToken);
        int open;
        lock (_gate)
        {
            open = _disposed ? -1 : _open.Add(connection) ? _open.Count : -1;
        }

        if (open < 0)
        {
            // Disposed while connecting: this socket would outlive the client.
            await connection.DisposeAsync();
            throw new ObjectDisposedException(nameof(ConnectionPool), $"the client was disposed while connecting to {_server}");
        }

        logger.LogDebug("Opened a connection to {Server} ({Open} open)", _server, open);
        return connection;
    }

    /// <summary>Gives a connection back after a call: kept for reuse if healthy and there is room, else closed.</summary>
    public async ValueTask ReturnAsync(ServerConnection connection)
    {
        lock (_gate)
        {
            if (!connection.IsBroken && !_disposed && _idle.Count < settings.MaxIdleConnectionsPerServer && _open.Contains(connection))
            {
                _idle.Push(connection);
                return;
            }
        }

        await CloseAsync(connection);
    }

    /// <summary>Closes the idle connections (the server is gone; they would only fail later).</summary>
    public async ValueTask CloseIdleAsync()
    {
        ServerConnection[] idle;
        lock (_gate)
        {
            idle = [.. _idle];
            _idle.Clear();
        }

        foreach (ServerConnection connection in idle)
            await CloseAsync(connection);
    }

    /// <summary>Closes every connection, idle or busy; a call still running on one fails with a transport error.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
            _disposed = true;
        await AbortAllAsync(reason: null);
    }

    /// <summary>Closes every connection but stays usable: calls running on them fail with an
    /// <see cref="RpcReadException"/> that gives <paramref name="reason"/> (the server went silent).</summary>
    public async ValueTask AbortAllAsync(string? reason)
    {
        ServerConnection[] all;
        lock (_gate)
        {
            all = [.. _open];
            _open.Clear();
            _idle.Clear();
        }

        foreach (ServerConnection connection in all)
            await connection.AbortAsync(reason);
    }

    private ServerConnection? TryTakeIdle()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _idle.TryPop(out ServerConnection? connection) ? connection : null;
        }
    }

    private async ValueTask CloseAsync(ServerConnection connection)
    {
        lock (_gate)
            _open.Remove(connection);
        await connection.DisposeAsync();
    }
}
