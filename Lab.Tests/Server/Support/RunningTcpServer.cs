using System.Net;
using Lab.Protocol.Discovery;
using Lab.Protocol.Settings;
using Lab.Server;
using Lab.Server.Demo;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Server.Support;

/// <summary>
/// The real server, started for a test: a <see cref="ServerStub"/> with the demo methods (and whatever a test
/// registers), served by a <see cref="TcpServer"/> on a free loopback port, recording its log. The server tests
/// use its parts; the client tests use <see cref="Start"/>, which adds two methods a client test needs, and
/// read what the server did from its log, as an operator would.
/// </summary>
/// <remarks>Concurrency: every member may be called from any thread; the counts are read from the log.</remarks>
public sealed class RunningTcpServer : IAsyncDisposable
{
    private readonly ILoggerFactory _loggerFactory;
    private readonly ChangeSignal _changed = new();
    private TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _heldCalls;

    public RunningTcpServer(ServerSettings? settings = null, Action<ServerStub>? register = null)
    {
        Settings = settings ?? TestSettings.Server();
        _loggerFactory = Log.CreateFactory();
        Log.LineAdded += _changed.Notify;
        Stub = new ServerStub(Settings.MethodTimeout, _loggerFactory.CreateLogger<ServerStub>(), Settings.MaxConcurrentCalls);
        new DemoMethods().RegisterAll(Stub);
        register?.Invoke(Stub);
        Server = new TcpServer(Stub, Settings, _loggerFactory);
        Server.Start();
        EndPoint = Server.LocalEndPoint;
    }

    public LogRecorder Log { get; } = new();

    public ServerSettings Settings { get; }

    public ServerStub Stub { get; }

    public TcpServer Server { get; }

    /// <summary>Where the server listens (or listened, once stopped).</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>What <c>whoami</c> answers (servers started with <see cref="Start"/>).</summary>
    public string Name { get; private init; } = "test";

    public string Host => EndPoint.Address.ToString();

    public int Port => EndPoint.Port;

    /// <summary><c>host:port</c> as the client names it.</summary>
    public string Address => HostAddress.Format(Host, Port);

    public int AcceptedConnections => Log.Count("Connection from .* opened");

    /// <summary>Connections not yet closed: the server logs "closed" once a connection's socket is closed.</summary>
    public int OpenConnections => AcceptedConnections - Log.Count("Connection from .* closed after");

    /// <summary>Replies written, errors included: the server logs each one just before sending it.</summary>
    public int CallsAnswered => Log.Count(" -> (ok in |[A-Za-z]+: )");

    /// <summary>Calls of <c>hold</c> that arrived and wait for <see cref="ReleaseHeldCalls"/>.</summary>
    public int HeldCalls => Volatile.Read(ref _heldCalls);

    /// <summary>
    /// A server for client tests: the demo methods plus <c>whoami</c> (answers <paramref name="name"/>, to tell
    /// instances apart) and <c>hold</c> (answers "released" only when the test calls <see cref="ReleaseHeldCalls"/>).
    /// Its method timeout is long, so a held call ends when the test says.
    /// </summary>
    /// <param name="address">Listen address; IPv4 loopback by default.</param>
    /// <param name="port">0 for a free port; a stopped server's port to play a restarted server.</param>
    public static RunningTcpServer Start(string name = "test", IPAddress? address = null, int port = 0)
    {
        ServerSettings settings = TestSettings.Server() with
        {
            Host = (address ?? IPAddress.Loopback).ToString(),
            Port = port,
            MethodTimeout = TestTimeouts.Unexpected,
        };
        RunningTcpServer? server = null;
        server = new RunningTcpServer(settings, stub =>
        {
            stub.Register("whoami", () => name);
            stub.Register("hold", (CancellationToken cancellationToken) => server!.HoldAsync(cancellationToken));
        }) { Name = name };
        return server;
    }

    public Task WaitUntilAsync(Func<RunningTcpServer, bool> condition, string what) =>
        _changed.WaitUntilAsync(() => condition(this), $"{what} on server {Name}");

    public void ReleaseHeldCalls() =>
        Interlocked.Exchange(ref _release, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>A graceful stop (the server's own): no new connections, idle ones closed at once, calls in
    /// progress answered first. Held calls are released, so the stop never waits for the drain deadline.</summary>
    public Task StopAsync()
    {
        ReleaseHeldCalls();
        return Server.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await Server.DisposeAsync();
        _loggerFactory.Dispose();
    }

    /// <summary>Opens a raw connection for hand-written requests.</summary>
    public Task<RawRpcConnection> ConnectAsync(int? receiveBufferSize = null) => RawRpcConnection.ConnectAsync(EndPoint, receiveBufferSize);

    private async Task<string> HoldAsync(CancellationToken cancellationToken)
    {
        Task released = Volatile.Read(ref _release).Task;
        Interlocked.Increment(ref _heldCalls);
        _changed.Notify();
        await released.WaitAsync(cancellationToken);
        return "released";
    }
}
