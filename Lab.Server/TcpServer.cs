using System.Net;
using System.Net.Sockets;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;

namespace Lab.Server;

/// <summary>Mirrors the lab's <c>TCPServer</c>: listens on one address (IPv4 or IPv6, per <c>-l</c>), accepts
/// connections and runs one concurrent <see cref="RpcConnection"/> per client, so client B never waits
/// for client A's call (lab requirements §1). Its one job is the lifetime of sockets: it owns every connection task,
/// and on stop it drains them within a deadline and closes them.</summary>
/// <remarks><para>
/// The lab started a thread per connection and never looked at it again. Here every connection task
/// sits in <see cref="_connections"/> until it ends; its exceptions are caught and logged and its socket
/// is disposed in <c>finally</c>; <see cref="StopAsync"/> awaits them all, so no connection outlives a stop.</para>
/// <para>Concurrency: <see cref="Start"/> once, then <see cref="StopAsync"/> (a second call awaits the first).
/// <see cref="_gate"/> guards <see cref="_connections"/>; the accept loop adds, each connection task removes itself.</para>
/// <example><code>
/// var server = new TcpServer(stub, settings, loggerFactory);
/// server.Start();                      // bound and accepting: server.LocalEndPoint has the real port
/// await server.StopAsync();            // stop accepting, drain in-flight calls, close every connection
/// </code></example></remarks>
public sealed class TcpServer(ServerStub stub, ServerSettings settings, ILoggerFactory loggerFactory) : IAsyncDisposable
{
    // Connection lines are logged under TcpServer too: one component name for everything socket-related.
    private readonly ILogger _logger = loggerFactory.CreateLogger<TcpServer>();
    private readonly Lock _gate = new();
    private readonly Dictionary<RpcConnection, Task> _connections = [];

    // _drain: stop taking new requests (a graceful stop began). _abort: the drain deadline passed.
    private readonly CancellationTokenSource _stopAccepting = new();
    private readonly CancellationTokenSource _drain = new();
    private readonly CancellationTokenSource _abort = new();

    // Cancelled when the listener dies while the server runs: nobody new can connect, so the owner
    // (RpcServer) must stop the whole server — a passive shutdown — instead of heartbeating a
    // registry entry that no client can use.
    private readonly CancellationTokenSource _listenerFailed = new();
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private Task? _stopping;

    /// <summary>The bound address and real port (after <see cref="Start"/>; useful with port 0).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint?)_listener?.LocalEndPoint ?? throw new InvalidOperationException("the server is not started");

    /// <summary>Fires if the listener fails while running (not on a requested stop).</summary>
    public CancellationToken ListenerFailed => _listenerFailed.Token;

    /// <summary>Binds and listens, then starts accepting in the background.</summary>
    /// <exception cref="ServerStartException">The address is not valid, not on this machine, or the port is in use.</exception>
    public void Start()
    {
        IPAddress address;
        try
        {
            address = HostAddress.ParseListen(settings.Host);
        }
        catch (FormatException ex)
        {
            throw new ServerStartException(ex.Message, ex);
        }

        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // "::" also accepts IPv4 clients (as ::ffff:a.b.c.d) where the OS allows dual-mode sockets.
            if (address.Equals(IPAddress.IPv6Any))
                listener.DualMode = true;
            listener.Bind(new IPEndPoint(address, settings.Port));
            listener.Listen(512);
        }
        catch (SocketException ex)
        {
            listener.Dispose();
            string why = ex.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "the address is already in use",
                SocketError.AddressNotAvailable => "that address does not belong to this machine",
                SocketError.AccessDenied => "permission denied",
                _ => ex.Message,
            };
            throw new ServerStartException($"cannot listen on {HostAddress.Format(address.ToString(), settings.Port)}: {why}", ex);
        }

        _listener = listener;
        _acceptLoop = AcceptLoopAsync(listener, _stopAccepting.Token);
    }

    /// <summary>Graceful stop: stop accepting; close idle connections; let calls in progress finish and send their
    /// replies within drain_timeout; then cancel what is left and close every connection. Safe to call twice.</summary>
    public Task StopAsync()
    {
        lock (_gate)
            return _stopping ??= StopCoreAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopAccepting.Dispose();
        _listenerFailed.Dispose();
        _drain.Dispose();
        _abort.Dispose();
    }

    private async Task StopCoreAsync()
    {
        await _stopAccepting.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        await _drain.CancelAsync().ConfigureAwait(false);
        Task all;
        lock (_gate)
            all = Task.WhenAll(_connections.Values);

        try
        {
            await all.WaitAsync(settings.DrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("Calls still running after the drain timeout of {Seconds:0.###} s; closing their connections",
                settings.DrainTimeout.TotalSeconds);
            await _abort.CancelAsync().ConfigureAwait(false);
            // Connection tasks never throw (RunConnectionAsync catches everything), so this only waits.
            await all.ConfigureAwait(false);
        }

        // Methods still running are on background threads: the process leaves them behind, so name them.
        if (stub.RunningMethods is { Count: > 0 } abandoned)
            _logger.LogWarning("Abandoning {Count} method(s) still running: {Methods}", abandoned.Count, string.Join(", ", abandoned));
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken cancellationToken)
    {
        int failedAccepts = 0;
        int refused = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                // A client that gave up before we accepted it: that connection is lost, the listener is fine.
                _logger.LogDebug("A client left before its connection was accepted: {Reason}", ex.Message);
                continue;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is not SocketError.InvalidArgument)
            {
                // Out of descriptors or memory: accept fails at once, again and again. Back off (100 ms
                // doubling up to 2 s), log once per streak, and keep serving the connections we have.
                if (failedAccepts++ == 0)
                    _logger.LogWarning("Accepting connections failed: {Reason}; backing off and retrying (logged once until accepting works again)", ex.Message);
                TimeSpan delay = TimeSpan.FromMilliseconds(100 * Math.Pow(2, Math.Min(failedAccepts - 1, 5)));
                await Task.WhenAny(Task.Delay(delay < TimeSpan.FromSeconds(2) ? delay : TimeSpan.FromSeconds(2), cancellationToken)).ConfigureAwait(false);
                continue;
            }
            catch (Exception ex)
            {
                // The listening socket itself is gone or broken (shut down: InvalidArgument): no new
                // client can ever connect.
                // Open connections keep being served until the owner stops the server.
                _logger.LogCritical(ex, "The listener failed; no new connections will be accepted");
                await _listenerFailed.CancelAsync().ConfigureAwait(false);
                return;
            }

            failedAccepts = 0;
            int open;
            lock (_gate)
                open = _connections.Count;
            if (open >= settings.MaxConnections)
            {
                // Closed at once: one peer opening connections without end must not take every descriptor.
                if (refused++ == 0)
                    _logger.LogWarning("Refusing new connections: max_connections ({Max}) are open; closing each new one at once", settings.MaxConnections);
                socket.Dispose();
                continue;
            }

            refused = 0;
            socket.NoDelay = true;
            var connection = new RpcConnection(socket, stub, settings, _logger);
            lock (_gate)
            {
                // Added under the lock; the task removes itself under the same lock, after a yield,
                // so it can never remove itself before it was added.
                _connections.Add(connection, RunConnectionAsync(connection, socket));
            }
        }
    }

    private async Task RunConnectionAsync(RpcConnection connection, Socket socket)
    {
        await Task.Yield();
        ServerMetrics.ConnectionChanged(+1);
        string reason = "internal error";
        try
        {
            reason = await connection.RunAsync(_drain.Token, _abort.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Connection from {Peer} ended with an unexpected error", connection.Peer);
        }
        finally
        {
            socket.Dispose();
            lock (_gate)
                _connections.Remove(connection);

            ServerMetrics.ConnectionChanged(-1);
        }

        // Logged only now, so "closed" means the socket is closed and the server holds nothing of it.
        _logger.LogInformation("Connection from {Peer} closed after {Calls} calls ({Reason})", connection.Peer, connection.Calls, reason);
    }
}

/// <summary>The server could not start listening; the message is the one line a user sees.</summary>
public sealed class ServerStartException(string message, Exception? inner = null) : Exception(message, inner);
