using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Lab.Protocol.Framing;

namespace Lab.Tests.Client.Support;

/// <summary>How a <see cref="MisbehavingServer"/> lets its clients down — one per client-side timeout of SPEC §7.</summary>
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

/// <summary>A TCP server that accepts connections and then misbehaves in one chosen way.</summary>
public sealed class MisbehavingServer : IAsyncDisposable
{
    private static readonly byte[] HalfReply = "{\"res\": [1, 2, "u8.ToArray();

    private readonly Misbehaviour _behaviour;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Socket, Task> _connections = new();
    private readonly ChangeSignal _changed = new();
    private readonly Task _acceptLoop;
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

    public Task WaitUntilAsync(Func<MisbehavingServer, bool> condition, string what) =>
        _changed.WaitUntilAsync(() => condition(this), what);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Dispose();
        foreach (Socket socket in _connections.Keys)
        {
            socket.Dispose();
        }

        await _acceptLoop;
        await Task.WhenAll(_connections.Values);
        _stopping.Dispose();
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
                await Task.Delay(Timeout.Infinite, _stopping.Token);
            }

            while (await reader.ReadMessageAsync(Timeout.InfiniteTimeSpan, _stopping.Token) is not null)
            {
                Interlocked.Increment(ref _requestsReceived);
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
