using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Lab.Protocol.Framing;

namespace Lab.Testing;

/// <summary>How a <see cref="MisbehavingServer"/> lets its clients down — one per client-side timeout of lab requirements §7 (client rows).</summary>
public enum Misbehaviour
{
    /// <summary>Accepts, never reads: a large request fills the socket buffers and the client's write blocks.</summary>
    NeverReads,

    /// <summary>Reads every request, never answers (a hung server).</summary>
    NeverAnswers,

    /// <summary>Reads a request, sends the first half of a reply, then closes (a server that died mid-reply).</summary>
    HalfReplyThenClose,

    /// <summary>Reads a request, sends the first half of a reply, then stalls with the connection open.</summary>
    HalfReplyThenStall,

    /// <summary>Reads a request, then closes without a word (a server killed while running the method).</summary>
    CloseAfterRequest,
}

/// <summary>
/// A fake RPC server on a loopback port that accepts connections and then breaks the protocol in
/// one chosen way, so a client (the library in the tests, the real program in the scenarios) can be
/// shown timing out or failing in each phase and saying which one.
/// </summary>
/// <remarks>
/// Concurrency: one accept loop and one task per connection, all owned here and awaited in
/// <see cref="DisposeAsync"/>. <see cref="FirstContact"/> completes when the first whole request has
/// been read (for <see cref="Misbehaviour.NeverReads"/>: when the first connection is accepted).
/// <example>
/// <code>
/// await using var fake = new MisbehavingServer(Misbehaviour.NeverAnswers);
/// // run: Lab.ClientApp -m server -i 127.0.0.1 -p {fake.Port} add 1 2   → call timeout
/// </code>
/// </example>
/// </remarks>
public sealed class MisbehavingServer : IAsyncDisposable
{
    /// <summary>What <see cref="Misbehaviour.HalfReplyThenClose"/> and <see cref="Misbehaviour.HalfReplyThenStall"/> send: a reply cut in the middle.</summary>
    public const string HalfReplyText = "{\"res\": [1, 2, ";

    private static readonly byte[] HalfReply = System.Text.Encoding.UTF8.GetBytes(HalfReplyText);

    private readonly Misbehaviour _behaviour;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Socket, Task> _connections = new();
    private readonly ChangeSignal _changed = new();
    private readonly Task _acceptLoop;
    private readonly TaskCompletionSource _firstContact = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _firstHangUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _requestsReceived;

    public MisbehavingServer(Misbehaviour behaviour)
    {
        _behaviour = behaviour;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (behaviour == Misbehaviour.NeverReads)
        {
            // A fixed small receive buffer (inherited by accepted sockets) turns off the kernel's
            // buffer auto-tuning, which could otherwise swallow many megabytes before the write blocks.
            _listener.ReceiveBufferSize = 4096;
        }

        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    public string Address => $"{Host}:{Port}";

    /// <summary>Complete requests read so far (the client's write really reached the server).</summary>
    public int RequestsReceived => Volatile.Read(ref _requestsReceived);

    /// <summary>Completes at the first whole request read (for NeverReads: at the first accepted connection).</summary>
    public Task FirstContact => _firstContact.Task;

    /// <summary>
    /// Completes when a client that sent a request closes (or resets) its connection: the moment it
    /// gave up on this server, seen from the server's side of the wire. Never for <see cref="Misbehaviour.NeverReads"/>.
    /// </summary>
    public Task FirstHangUp => _firstHangUp.Task;

    public Task WaitUntilAsync(Func<MisbehavingServer, bool> condition, string what) =>
        _changed.WaitUntilAsync(() => condition(this), what);

    public async ValueTask DisposeAsync()
    {
        await FakeServerShutdown.StopAsync(_stopping, _listener, _connections, _acceptLoop);
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _connections[socket] = MisbehaveAsync(socket);
        }
    }

    private async Task MisbehaveAsync(Socket socket)
    {
        try
        {
            await using var stream = new NetworkStream(socket, ownsSocket: true);
            var reader = new MessageReader(stream, 64 * 1024 * 1024);
            if (_behaviour == Misbehaviour.NeverReads)
            {
                _firstContact.TrySetResult();
                await Task.Delay(Timeout.Infinite, _stopping.Token);
            }

            while (await reader.ReadMessageAsync(Timeout.InfiniteTimeSpan, _stopping.Token) is not null)
            {
                Interlocked.Increment(ref _requestsReceived);
                _firstContact.TrySetResult();
                _changed.Notify();
                switch (_behaviour)
                {
                    case Misbehaviour.HalfReplyThenClose:
                        await stream.WriteAsync(HalfReply, _stopping.Token);
                        return;
                    case Misbehaviour.HalfReplyThenStall:
                        await stream.WriteAsync(HalfReply, _stopping.Token);
                        // Silent from now on, but still reading: the client closing the connection ends it.
                        while (await reader.ReadMessageAsync(Timeout.InfiniteTimeSpan, _stopping.Token) is not null)
                        {
                        }

                        _firstHangUp.TrySetResult();
                        return;
                    case Misbehaviour.CloseAfterRequest:
                        return;
                }
            }

            // The client closed the connection (NeverAnswers: after giving up waiting).
            if (RequestsReceived > 0)
            {
                _firstHangUp.TrySetResult();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // Stopped by the test, or the client gave up and closed (a reset): either ends this connection.
            if (!_stopping.IsCancellationRequested && RequestsReceived > 0)
            {
                _firstHangUp.TrySetResult();
            }
        }
        finally
        {
            socket.Dispose();
        }
    }
}
