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

    /// <summary>Answers each request with <see cref="MisbehavingServer.Reply"/> and, in the same write, a second
    /// reply, <see cref="MisbehavingServer.ExtraReply"/>, that nobody asked for.</summary>
    AnswersTwice,

    /// <summary>Answers each request with <see cref="MisbehavingServer.Reply"/>, then, once the test calls
    /// <see cref="MisbehavingServer.SendExtras"/> (the client is idle by then), <see cref="MisbehavingServer.ExtraReply"/>.</summary>
    ExtraReplyWhileIdle,

    /// <summary>Answers each request with a reply whose string holds bytes that are not UTF-8.</summary>
    InvalidUtf8Reply,
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

    /// <summary>What the servers that answer at all answer first: a well-formed reply.</summary>
    public const string Reply = "{\"res\": \"first\"}\n";

    /// <summary>The reply nobody asked for (<see cref="Misbehaviour.AnswersTwice"/>, <see cref="Misbehaviour.ExtraReplyWhileIdle"/>).</summary>
    public const string ExtraReply = "{\"res\": 777777}\n";

    private static readonly byte[] HalfReply = System.Text.Encoding.UTF8.GetBytes(HalfReplyText);

    // {"res": "<0xFF 0xFE>"}: valid JSON to the tokenizer, not text to anyone who reads the string.
    private static readonly byte[] InvalidUtf8 = [.. "{\"res\": \""u8, 0xFF, 0xFE, .. "\"}\n"u8];

    private readonly Misbehaviour _behaviour;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Socket, Task> _connections = new();
    private readonly ChangeSignal _changed = new();
    private readonly Task _acceptLoop;
    private readonly TaskCompletionSource _firstContact = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _extrasReleased = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _requestsReceived;
    private int _extrasSent;

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

    /// <summary>Connections accepted so far.</summary>
    public int ConnectionsAccepted => _connections.Count;

    /// <summary>Unasked-for replies written so far by <see cref="Misbehaviour.ExtraReplyWhileIdle"/>: on loopback the
    /// bytes are in the client's socket when this counts them.</summary>
    public int ExtrasSent => Volatile.Read(ref _extrasSent);

    /// <summary>Lets <see cref="Misbehaviour.ExtraReplyWhileIdle"/> send its unasked-for replies.</summary>
    public void SendExtras() => _extrasReleased.TrySetResult();

    /// <summary>Completes at the first whole request read (for NeverReads: at the first accepted connection).</summary>
    public Task FirstContact => _firstContact.Task;

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
            _changed.Notify();
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
                        await Task.Delay(Timeout.Infinite, _stopping.Token);
                        return;
                    case Misbehaviour.CloseAfterRequest:
                        return;
                    case Misbehaviour.AnswersTwice:
                        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(Reply + ExtraReply), _stopping.Token);
                        break;
                    case Misbehaviour.ExtraReplyWhileIdle:
                        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(Reply), _stopping.Token);
                        await _extrasReleased.Task.WaitAsync(_stopping.Token);
                        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(ExtraReply), _stopping.Token);
                        Interlocked.Increment(ref _extrasSent);
                        _changed.Notify();
                        break;
                    case Misbehaviour.InvalidUtf8Reply:
                        await stream.WriteAsync(InvalidUtf8, _stopping.Token);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // Stopped by the test, or the client gave up and closed: either ends this connection.
        }
        finally
        {
            socket.Dispose();
        }
    }
}
