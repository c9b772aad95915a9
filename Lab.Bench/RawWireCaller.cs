using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;

namespace Lab.Bench;

/// <summary>
/// A caller that speaks the wire protocol straight over a socket — no <c>RpcClient</c> — so what is
/// measured is the server, not our client. It writes one prebuilt request, then reads until the reply
/// object ends (found with <see cref="JsonMessageScanner"/>).
/// </summary>
/// <remarks>
/// <para>
/// No lab class; it plays the lab's <c>TCPClient</c>. Persistent mode keeps one connection for all
/// calls; new-connection mode connects, calls and closes every time, as the lab's original client did.
/// The request bytes are built once; a call allocates nothing.
/// </para>
/// <example>
/// <code>
/// await using var caller = new RawWireCaller(endpoint, payloadSize: 0, newConnectionPerCall: false);
/// await caller.OpenAsync(token);
/// await caller.CallAsync(token);   // add(1, 2), reply checked
/// </code>
/// </example>
/// </remarks>
public sealed class RawWireCaller(EndPoint endpoint, int payloadSize, bool newConnectionPerCall) : Caller
{
    private static readonly byte[] ErrorKey = "\"error\""u8.ToArray();
    private static readonly byte[] AddResult = "13"u8.ToArray();

    private readonly byte[] _request = BuildRequest(payloadSize);
    private readonly JsonMessageScanner _scanner = new();
    private byte[] _buffer = new byte[payloadSize > 0 ? payloadSize + 4096 : 4096];
    private Socket? _socket;

    // Bytes received after the last reply (its trailing newline, when it came in a later packet).
    private int _leftoverStart;
    private int _leftoverEnd;

    /// <summary>The request this caller sends, for tests and for showing what is on the wire.</summary>
    public ReadOnlyMemory<byte> Request => _request;

    public override async ValueTask OpenAsync(CancellationToken cancellationToken)
    {
        if (!newConnectionPerCall)
        {
            await ConnectAsync(cancellationToken);
        }
    }

    // The call and its reads suspend on every call: pooled state machines keep the load generator
    // from allocating (and collecting garbage) on the path it is timing.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public override async ValueTask CallAsync(CancellationToken cancellationToken)
    {
        if (_socket is null || newConnectionPerCall)
        {
            await ConnectAsync(cancellationToken);
        }

        Socket socket = _socket!;
        await SendAllAsync(socket, cancellationToken);
        ReadOnlyMemory<byte> reply = await ReceiveReplyAsync(socket, cancellationToken);
        CheckReply(reply.Span);

        if (newConnectionPerCall)
        {
            Abandon();
        }
    }

    public override void Abandon()
    {
        _socket?.Dispose();
        _socket = null;
        _leftoverStart = _leftoverEnd = 0;
    }

    public override ValueTask DisposeAsync()
    {
        Abandon();
        return base.DisposeAsync();
    }

    /// <summary>The request for <c>add(1, 2)</c> (payload 0) or <c>echo</c> with a payload of N bytes.</summary>
    public static byte[] BuildRequest(int payloadSize)
    {
        if (payloadSize == 0)
        {
            return "{\"method_name\":\"add\",\"method_args\":[1,2],\"method_kwargs\":{}}\n"u8.ToArray();
        }

        var request = new StringBuilder(payloadSize + 80);
        request.Append("{\"method_name\":\"echo\",\"method_args\":[\"");
        request.Append('x', payloadSize);
        request.Append("\"],\"method_kwargs\":{}}\n");
        return Encoding.UTF8.GetBytes(request.ToString());
    }

    private async ValueTask ConnectAsync(CancellationToken cancellationToken)
    {
        Abandon();
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _socket = socket;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendAllAsync(Socket socket, CancellationToken cancellationToken)
    {
        int sent = 0;
        while (sent < _request.Length)
        {
            sent += await socket.SendAsync(_request.AsMemory(sent), SocketFlags.None, cancellationToken);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadOnlyMemory<byte>> ReceiveReplyAsync(Socket socket, CancellationToken cancellationToken)
    {
        _scanner.Reset();
        int start = _leftoverStart;
        int end = _leftoverEnd;
        while (true)
        {
            start += JsonMessageScanner.CountLeadingWhitespace(_buffer.AsSpan(start, end - start));
            if (start < end)
            {
                ScanResult result = _scanner.Scan(_buffer.AsSpan(start, end - start), out int length);
                if (result == ScanResult.Complete)
                {
                    _leftoverStart = start + length;
                    _leftoverEnd = end;
                    return _buffer.AsMemory(start, length);
                }

                if (result == ScanResult.Malformed)
                {
                    throw new InvalidDataException("the reply is not a JSON object");
                }
            }
            else
            {
                start = end = 0;
            }

            if (end == _buffer.Length)
            {
                int pending = end - start;
                byte[] target = pending == _buffer.Length ? new byte[_buffer.Length * 2] : _buffer;
                Buffer.BlockCopy(_buffer, start, target, 0, pending);
                _buffer = target;
                start = 0;
                end = pending;
            }

            int read = await socket.ReceiveAsync(_buffer.AsMemory(end), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new IOException($"the server closed the connection ({end - start} bytes of a reply received)");
            }

            end += read;
        }
    }

    private void CheckReply(ReadOnlySpan<byte> reply)
    {
        // An error reply is {"res": "...", "error": {...}}; the error key follows the (short) message.
        ReadOnlySpan<byte> tail = reply.Length > 512 ? reply[^512..] : reply;
        bool ok = tail.IndexOf(ErrorKey) < 0
            && (payloadSize == 0 ? reply.IndexOf(AddResult) >= 0 : reply.Length >= payloadSize);
        if (!ok)
        {
            string shown = Encoding.UTF8.GetString(reply.Length > 200 ? reply[..200] : reply);
            throw new InvalidDataException($"unexpected reply: {shown}");
        }
    }
}
