using System.Net;
using System.Net.Sockets;
using System.Text;
using Lab.Protocol.Framing;

namespace Lab.Scenarios.Harness;

/// <summary>How a <see cref="MisbehavingServer"/> fails its client on purpose (SPEC §7, client rows).</summary>
internal enum Misbehavior
{
    /// <summary>Accepts, then never reads: a big request fills the buffers and the client's write stalls.</summary>
    NeverReads,

    /// <summary>Reads the whole request, never answers: the client waits for processing that never ends.</summary>
    NeverAnswers,

    /// <summary>Reads the request, sends the first half of a reply, then goes silent.</summary>
    AnswersHalf,
}

/// <summary>
/// A fake RPC server on a loopback port that breaks the protocol in one chosen way, so the real
/// client program can be shown timing out in each phase and saying which one.
/// </summary>
/// <remarks>
/// Concurrency: one accept loop and one task per connection, all owned here and awaited in
/// <see cref="DisposeAsync"/>; <see cref="RequestReceived"/> completes when the first whole request
/// has been read (for <see cref="Misbehavior.NeverReads"/>: when the first connection is accepted).
/// <example>
/// <code>
/// await using var fake = MisbehavingServer.Start(Misbehavior.NeverAnswers);
/// // run: Lab.Client -m server -i 127.0.0.1 -p {fake.Port} add 1 2   → call timeout
/// </code>
/// </example>
/// </remarks>
internal sealed class MisbehavingServer : IAsyncDisposable
{
    private const string HalfReply = "{\"res\": 12345, \"pad";

    private readonly Socket _listener;
    private readonly Misbehavior _behavior;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = []; // guarded by itself
    private readonly Task _acceptLoop;

    private MisbehavingServer(Misbehavior behavior)
    {
        _behavior = behavior;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (behavior == Misbehavior.NeverReads)
        {
            // Inherited by accepted sockets: a small window makes the client's send buffer fill sooner.
            _listener.ReceiveBufferSize = 4096;
        }

        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port { get; }

    /// <summary>Completes when the first request was fully read (or, for NeverReads, when the first connection arrived).</summary>
    public TaskCompletionSource RequestReceived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static MisbehavingServer Start(Misbehavior behavior) => new(behavior);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll([_acceptLoop, .. connections]).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                Socket socket = await _listener.AcceptAsync(_stop.Token);
                lock (_connections)
                {
                    _connections.Add(ServeAsync(socket));
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Stopped.
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            if (_behavior == Misbehavior.NeverReads)
            {
                RequestReceived.TrySetResult();
                await Task.Delay(Timeout.Infinite, _stop.Token);
                return;
            }

            var reader = new MessageReader(stream, 64 * 1024 * 1024);
            if (await reader.ReadMessageAsync(TimeSpan.FromSeconds(30), _stop.Token) is null)
            {
                return;
            }

            RequestReceived.TrySetResult();
            if (_behavior == Misbehavior.AnswersHalf)
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(HalfReply), _stop.Token);
            }

            // Keep the connection open and silent, draining whatever else the client sends, until
            // the client gives up and closes it.
            byte[] sink = new byte[4096];
            while (await stream.ReadAsync(sink, _stop.Token) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or FramingException or SocketException)
        {
            // The client went away or we are stopping: both are the expected end.
        }
    }
}
