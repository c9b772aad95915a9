using System.Net;
using System.Net.Sockets;
using Lab.Protocol.Configuration;
using Microsoft.Extensions.Logging;

namespace Lab.Server;

/// <summary>
/// Mirrors the lab's <c>TCPServer</c>: listens on one address (IPv4 or IPv6, per <c>-l</c>), accepts
/// connections and runs one concurrent <see cref="RpcConnection"/> per client, so client B never waits
/// for client A's call (lab requirements §1). Its one job is the lifetime of sockets: it owns every connection task,
/// and on stop it drains them within a deadline and closes them.
/// </summary>
/// <remarks>
/// <para>
/// The lab started a thread per connection and never looked at it again. Here every connection task
/// sits in <see cref="_connections"/> until it ends; its exceptions are caught and logged and its socket
/// is disposed in <c>finally</c>; <see cref="StopAsync"/> awaits them all — nothing is fire-and-forget.
/// </para>
/// <para>
/// Concurrency: <see cref="Start"/> once, then <see cref="StopAsync"/> once (further calls are no-ops).
/// <see cref="_gate"/> guards <see cref="_connections"/>; the accept loop adds, each connection task removes itself.
/// </para>
/// <example>
/// <code>
/// var server = new TcpServer(stub, settings, loggerFactory);
/// server.Start();                      // bound and accepting: server.LocalEndPoint has the real port
/// await server.StopAsync();            // stop accepting, drain in-flight calls, close every connection
/// </code>
/// </example>
/// </remarks>
public sealed class TcpServer : IAsyncDisposable
{
    private const int ListenBacklog = 512;
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxAcceptRetryDelay = TimeSpan.FromSeconds(2);

    private readonly ServerStub _stub;
    private readonly ServerSettings _settings;
    private readonly ILogger _logger;
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

    // The one stop, shared by every caller: a second StopAsync awaits the first instead of repeating it.
    private readonly Lazy<Task> _stopping;
    private Socket? _listener;
    private Task? _acceptLoop;


    public TcpServer(ServerStub stub, ServerSettings settings, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _stub = stub ?? throw new ArgumentNullException(nameof(stub));
        _stopping = new Lazy<Task>(StopCoreAsync);
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        // Connection lines are logged under TcpServer too: one component name for everything socket-related.
        _logger = loggerFactory.CreateLogger<TcpServer>();
    }

    /// <summary>The bound address and real port (after <see cref="Start"/>; useful with port 0).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint?)_listener?.LocalEndPoint ?? throw new InvalidOperationException("the server is not started");

    /// <summary>Fires if the listener fails while running (not on a requested stop).</summary>
    public CancellationToken ListenerFailed => _listenerFailed.Token;

    /// <summary>Connections currently open.</summary>
    public int ConnectionCount
    {
        get
        {
            lock (_gate)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>Binds and listens, then starts accepting in the background.</summary>
    /// <exception cref="ServerStartException">The address is not valid, not on this machine, or the port is in use.</exception>
    public void Start()
    {
        if (_listener is not null)
        {
            throw new InvalidOperationException("the server is already started");
        }

        IPAddress address = ParseListenAddress(_settings.Host);
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // "::" also accepts IPv4 clients (as ::ffff:a.b.c.d) where the OS allows dual-mode sockets.
            if (address.Equals(IPAddress.IPv6Any))
            {
                listener.DualMode = true;
            }

            listener.Bind(new IPEndPoint(address, _settings.Port));
            listener.Listen(ListenBacklog);
        }
        catch (SocketException ex)
        {
            listener.Dispose();
            string where = Lab.Protocol.Discovery.InstanceMeta.FormatAddress(address.ToString(), _settings.Port);
            string why = ex.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "the address is already in use",
                SocketError.AddressNotAvailable => "that address does not belong to this machine",
                SocketError.AccessDenied => "permission denied",
                _ => ex.Message,
            };
            throw new ServerStartException($"cannot listen on {where}: {why}", ex);
        }

        _listener = listener;
        _acceptLoop = AcceptLoopAsync(listener, _stopAccepting.Token);
    }

    /// <summary>
    /// Graceful stop: stop accepting; close idle connections; let calls in progress finish and send their
    /// replies within drain_timeout; then cancel what is left and close every connection. Safe to call twice.
    /// </summary>
    public Task StopAsync() => _stopping.Value;

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
        await StopAcceptingAsync().ConfigureAwait(false);
        await _drain.CancelAsync().ConfigureAwait(false);
        Task[] running;
        lock (_gate)
        {
            running = [.. _connections.Values];
        }

        Task all = Task.WhenAll(running);
        try
        {
            await all.WaitAsync(_settings.DrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("Calls still running after the drain timeout of {Seconds:0.###} s; closing their connections",
                _settings.DrainTimeout.TotalSeconds);
            await _abort.CancelAsync().ConfigureAwait(false);
            // Connection tasks never throw (RunConnectionAsync catches everything), so this only waits.
            await all.ConfigureAwait(false);
        }

        // Methods still running are on background threads: the process leaves them behind, so name them.
        if (_stub.RunningMethods is { Count: > 0 } abandoned)
        {
            _logger.LogWarning("Abandoning {Count} method(s) still running: {Methods}", abandoned.Count, string.Join(", ", abandoned));
        }
    }

    private async Task StopAcceptingAsync()
    {
        await _stopAccepting.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }
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
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException
                                       && cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                // A client that gave up before we accepted it: that connection is lost, the listener is fine.
                _logger.LogDebug("A client left before its connection was accepted: {Reason}", ex.Message);
                continue;
            }
            catch (SocketException ex)
            {
                // Out of descriptors or memory: back off (doubling up to 2 s), log once per streak, keep serving.
                if (failedAccepts++ == 0)
                {
                    _logger.LogWarning("Accepting connections failed: {Reason}; backing off and retrying (logged once until accepting works again)", ex.Message);
                }

                TimeSpan delay = AcceptRetryDelay * Math.Pow(2, Math.Min(failedAccepts - 1, 5));
                await Task.WhenAny(Task.Delay(delay < MaxAcceptRetryDelay ? delay : MaxAcceptRetryDelay, cancellationToken)).ConfigureAwait(false);
                continue;
            }
            catch (Exception ex)
            {
                // The listening socket itself is gone or broken: no new client can ever connect.
                // Open connections keep being served until the owner stops the server.
                _logger.LogCritical(ex, "The listener failed; no new connections will be accepted");
                await _listenerFailed.CancelAsync().ConfigureAwait(false);
                return;
            }

            failedAccepts = 0;
            if (ConnectionCount >= _settings.MaxConnections)
            {
                // Closed at once: one peer opening connections without end must not take every descriptor.
                if (refused++ == 0)
                {
                    _logger.LogWarning("Refusing new connections: max_connections ({Max}) are open; closing each new one at once", _settings.MaxConnections);
                }

                socket.Dispose();
                continue;
            }

            refused = 0;
            socket.NoDelay = true;
            var connection = new RpcConnection(socket, _stub, _settings, _logger);
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
            {
                _connections.Remove(connection);
            }

            ServerMetrics.ConnectionChanged(-1);
        }

        // Logged only now, so "closed" means the socket is closed and the server holds nothing of it:
        // a reader of the log (or a test waiting on this line) never sees a freed connection still counted.
        _logger.LogInformation("Connection from {Peer} closed after {Calls} calls ({Reason})", connection.Peer, connection.Calls, reason);
    }

    /// <summary>Closes the listening socket behind the accept loop's back, as a fault would (tests of the passive stop).</summary>
    internal void BreakListenerForTest() => _listener?.Dispose();

    /// <summary>An IP address as given to <c>-l</c>; "localhost" is accepted as 127.0.0.1.</summary>
    /// <exception cref="ServerStartException">Not an IPv4 or IPv6 address.</exception>
    public static IPAddress ParseListenAddress(string host)
    {
        string trimmed = host.Trim().Trim('[', ']');
        if (string.Equals(trimmed, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }

        // IPAddress.TryParse reads "1.2.3" as 1.2.0.3; a listen address must be spelled out in full.
        bool fullIPv4 = trimmed.Contains(':', StringComparison.Ordinal) || trimmed.Count(c => c == '.') == 3;
        return fullIPv4 && IPAddress.TryParse(trimmed, out IPAddress? address)
            ? address
            : throw new ServerStartException($"invalid listen address \"{host}\": expected an IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1, :: or ::1");
    }
}

/// <summary>The server could not start listening; the message is the one line a user sees.</summary>
public sealed class ServerStartException(string message, Exception? inner = null) : Exception(message, inner);
