using System.Net;
using System.Net.Sockets;

namespace Lab.Bench;

/// <summary>
/// The floor: a TCP server that answers the wire protocol with no RPC framework at all — it finds
/// the end of each request object with <see cref="JsonMessageScanner"/> and writes a fixed reply.
/// Whatever Lab.Server costs beyond this is the framework's cost.
/// </summary>
/// <remarks>
/// <para>
/// No lab class (it stands in for <c>TCPServer</c> with an empty <c>RequestHandler</c>). An
/// <c>add</c> call gets <c>{"res": 13}\n</c>; an <c>echo</c> call gets <c>{"res":"&lt;payload&gt;"}\n</c>,
/// copying the payload bytes, so a 1 MiB echo puts the same bytes on the wire as our server does.
/// </para>
/// <para>
/// Concurrency: one accept loop plus one task per connection, all owned by this object and
/// awaited by <see cref="DisposeAsync"/>. The timeouts match the server's contract: the rest of a
/// started message and each reply's write are on deadlines; an idle connection may wait forever.
/// </para>
/// <example>
/// <code>
/// await using FloorServer floor = FloorServer.Start(new IPEndPoint(IPAddress.Loopback, 0), TimeSpan.FromSeconds(10));
/// Console.WriteLine($"Floor listening on {floor.Endpoint}");
/// await floor.Completion;
/// </code>
/// </example>
/// </remarks>
public sealed class FloorServer : IAsyncDisposable
{
    private static readonly byte[] AddReply = "{\"res\": 13}\n"u8.ToArray();
    private static readonly byte[] EchoReplyStart = "{\"res\":\""u8.ToArray();
    private static readonly byte[] EchoReplyEnd = "\"}\n"u8.ToArray();

    // Past this a request is not one the benchmark sends; closing keeps a runaway peer from
    // growing the buffer without bound.
    private const int MaxMessageSize = 64 * 1024 * 1024;

    private readonly Socket _listener;
    private readonly TimeSpan _timeout;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;

    // Guarded by itself: connection tasks add and remove themselves while the accept loop runs.
    private readonly HashSet<Task> _connections = [];

    private FloorServer(Socket listener, TimeSpan timeout)
    {
        _listener = listener;
        _timeout = timeout;
        Endpoint = (IPEndPoint)listener.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The bound address and port (the real port when started on port 0).</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>Completes when the accept loop has ended (after <see cref="DisposeAsync"/>).</summary>
    public Task Completion => _acceptLoop;

    /// <summary>Binds and starts accepting.</summary>
    /// <param name="endpoint">Where to listen; port 0 picks a free port.</param>
    /// <param name="timeout">Deadline for the rest of a started request, and for writing each reply.</param>
    public static FloorServer Start(IPEndPoint endpoint, TimeSpan timeout)
    {
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(endpoint);
            // A deep backlog: the 1,000-connection workload connects in bursts.
            listener.Listen(4096);
            return new FloorServer(listener, timeout);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                Socket socket = await _listener.AcceptAsync(_stopping.Token);
                // Nagle would hold each small reply back waiting for the client's ACK.
                socket.NoDelay = true;
                Track(ServeAsync(socket));
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private void Track(Task connection)
    {
        lock (_connections)
        {
            _connections.Add(connection);
        }

        _ = connection.ContinueWith(
            finished =>
            {
                lock (_connections)
                {
                    _connections.Remove(finished);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task ServeAsync(Socket socket)
    {
        byte[] buffer = new byte[4096];
        byte[] reply = new byte[4096];
        var scanner = new JsonMessageScanner();
        // One deadline source per connection, re-armed per message: no allocation per call.
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        int start = 0;
        int end = 0;
        try
        {
            while (true)
            {
                if (end == buffer.Length)
                {
                    if (start == 0 && buffer.Length >= MaxMessageSize)
                    {
                        return;
                    }

                    (buffer, start, end) = MakeRoom(buffer, start, end);
                }

                // Only the rest of a started message is on a deadline; between messages we wait freely.
                bool messageStarted = end > start;
                if (messageStarted)
                {
                    deadline.CancelAfter(_timeout);
                }

                int read = await socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, messageStarted ? deadline.Token : _stopping.Token);
                if (read == 0)
                {
                    return;
                }

                end += read;
                int replyLength = 0;
                while (true)
                {
                    start += JsonMessageScanner.CountLeadingWhitespace(buffer.AsSpan(start, end - start));
                    if (start == end)
                    {
                        start = end = 0;
                        break;
                    }

                    ScanResult result = scanner.Scan(buffer.AsSpan(start, end - start), out int length);
                    if (result == ScanResult.Malformed)
                    {
                        return;
                    }

                    if (result == ScanResult.Incomplete)
                    {
                        break;
                    }

                    replyLength = AppendReply(ref reply, replyLength, buffer.AsSpan(start, length), scanner);
                    scanner.Reset();
                    start += length;
                }

                if (!deadline.TryReset())
                {
                    return;
                }

                if (replyLength > 0)
                {
                    deadline.CancelAfter(_timeout);
                    await socket.SendAsync(reply.AsMemory(0, replyLength), SocketFlags.None, deadline.Token);
                    if (!deadline.TryReset())
                    {
                        return;
                    }
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A peer that vanished, a deadline or shutdown ends this connection only.
        }
        finally
        {
            deadline.Dispose();
            socket.Dispose();
        }
    }

    // Moves the unfinished message to the front of the buffer, growing the buffer when it is full.
    private static (byte[] Buffer, int Start, int End) MakeRoom(byte[] buffer, int start, int end)
    {
        int pending = end - start;
        byte[] target = pending == buffer.Length ? new byte[buffer.Length * 2] : buffer;
        Buffer.BlockCopy(buffer, start, target, 0, pending);
        return (target, 0, pending);
    }

    private static int AppendReply(ref byte[] reply, int offset, ReadOnlySpan<byte> message, JsonMessageScanner scanner)
    {
        ReadOnlySpan<byte> payload = scanner.HasPayload
            ? message[scanner.PayloadStart..scanner.PayloadEnd]
            : [];
        int needed = scanner.HasPayload
            ? EchoReplyStart.Length + payload.Length + EchoReplyEnd.Length
            : AddReply.Length;
        if (offset + needed > reply.Length)
        {
            Array.Resize(ref reply, Math.Max(reply.Length * 2, offset + needed));
        }

        Span<byte> target = reply.AsSpan(offset);
        if (!scanner.HasPayload)
        {
            AddReply.CopyTo(target);
            return offset + needed;
        }

        EchoReplyStart.CopyTo(target);
        payload.CopyTo(target[EchoReplyStart.Length..]);
        EchoReplyEnd.CopyTo(target[(EchoReplyStart.Length + payload.Length)..]);
        return offset + needed;
    }

    /// <summary>Stops accepting, closes every connection and waits for all their tasks.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Dispose();
        await _acceptLoop;
        Task[] remaining;
        lock (_connections)
        {
            remaining = [.. _connections];
        }

        await Task.WhenAll(remaining);
        _stopping.Dispose();
    }
}
