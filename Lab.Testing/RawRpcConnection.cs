using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Lab.Protocol.Framing;

namespace Lab.Testing;

/// <summary>
/// A bare TCP connection to an RPC server, speaking the wire format by hand: it sends exactly the
/// bytes a test or scenario wants — a correct request, half of one, garbage, 200 KB, a message split
/// across writes — and reads replies with the shared <see cref="MessageReader"/>.
/// </summary>
/// <remarks>
/// Direct observation: when a scenario says "the server answered BadRequest", it is this connection
/// that saw the reply, independent of the client program. Every wait is bounded: by the timeout
/// given, or by <see cref="TestTimeouts.Unexpected"/> when none is.
/// <example>
/// <code>
/// await using var connection = await RawRpcConnection.ConnectAsync("127.0.0.1", port, TimeSpan.FromSeconds(5));
/// await connection.SendRequestAsync("add", [1, 2]);
/// JsonElement reply = await connection.ReadReplyAsync(TimeSpan.FromSeconds(5));   // {"res": 3}
/// </code>
/// </example>
/// </remarks>
public sealed class RawRpcConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly MessageReader _reader;

    private RawRpcConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new MessageReader(_stream, maxMessageSize: 64 * 1024 * 1024);
    }

    /// <summary>The local end, as the server's log names this connection (<c>127.0.0.1:51234</c>).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>
    /// Connects within <paramref name="timeout"/>. A small <paramref name="receiveBufferSize"/> makes
    /// a connection that "never reads" fill up quickly.
    /// </summary>
    public static async Task<RawRpcConnection> ConnectAsync(string host, int port, TimeSpan timeout, int? receiveBufferSize = null, CancellationToken cancellationToken = default)
    {
        IPAddress address = IPAddress.Parse(host);
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize is { } size)
        {
            // Set before connecting: the TCP window is negotiated from it.
            socket.ReceiveBufferSize = size;
        }

        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            await socket.ConnectAsync(new IPEndPoint(address, port), deadline.Token);
            return new RawRpcConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects to <paramref name="server"/> within <see cref="TestTimeouts.Unexpected"/>.</summary>
    public static Task<RawRpcConnection> ConnectAsync(IPEndPoint server, int? receiveBufferSize = null) =>
        ConnectAsync(server.Address.ToString(), server.Port, TestTimeouts.Unexpected, receiveBufferSize);

    /// <summary>Connects to a loopback server: the listener may be bound to a wildcard.</summary>
    public static Task<RawRpcConnection> ConnectAsync(int port) => ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));

    /// <summary>The request JSON the lab prescribes, e.g. <c>{"method_name":"add","method_args":[1,2],"method_kwargs":{}}</c>.</summary>
    public static string RequestJson(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null) =>
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["method_name"] = method,
            ["method_args"] = args ?? [],
            ["method_kwargs"] = kwargs ?? new Dictionary<string, object?>(),
        });

    /// <summary>Sends <paramref name="text"/> exactly as given (no newline added).</summary>
    public async Task SendRawAsync(string text, CancellationToken cancellationToken = default) =>
        await SendRawAsync(Encoding.UTF8.GetBytes(text), cancellationToken);

    /// <summary>Sends the bytes exactly as given.</summary>
    public Task SendRawAsync(byte[] bytes, CancellationToken cancellationToken = default) => SendRawAsync(bytes.AsMemory(), cancellationToken);

    /// <summary>Sends the bytes exactly as given; a write the server never drains fails after <see cref="TestTimeouts.Unexpected"/>.</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TestTimeouts.Unexpected);
        await _stream.WriteAsync(bytes, deadline.Token);
    }

    /// <summary>Sends one well-formed request followed by a newline.</summary>
    public Task SendRequestAsync(string method, IReadOnlyList<object?>? args = null, IReadOnlyDictionary<string, object?>? kwargs = null, CancellationToken cancellationToken = default) =>
        SendRawAsync(RequestJson(method, args, kwargs) + "\n", cancellationToken);

    /// <summary>
    /// Reads the next reply and returns its exact text (without the trailing newline).
    /// </summary>
    /// <exception cref="TimeoutException">No reply within <paramref name="timeout"/> (default <see cref="TestTimeouts.Unexpected"/>).</exception>
    /// <exception cref="IOException">The server closed the connection instead of replying.</exception>
    public async Task<string> ReadReplyTextAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        TimeSpan limit = timeout ?? TestTimeouts.Unexpected;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        ReadOnlyMemory<byte>? message;
        try
        {
            message = await _reader.ReadMessageAsync(limit, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no reply within {limit.TotalSeconds:0.#} s");
        }

        return message is { } bytes
            ? Encoding.UTF8.GetString(bytes.Span)
            : throw new IOException("the server closed the connection instead of replying");
    }

    /// <summary>Reads the next reply as JSON (see <see cref="ReadReplyTextAsync"/> for the failures).</summary>
    public async Task<JsonElement> ReadReplyAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using JsonDocument document = JsonDocument.Parse(await ReadReplyTextAsync(timeout, cancellationToken));
        return document.RootElement.Clone();
    }

    /// <summary>Sends a request and reads its reply.</summary>
    public async Task<JsonElement> CallAsync(string method, IReadOnlyList<object?>? args, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        await SendRequestAsync(method, args, cancellationToken: cancellationToken);
        return await ReadReplyAsync(timeout, cancellationToken);
    }

    /// <summary>Sends hand-written request JSON exactly as given and reads the reply.</summary>
    public async Task<JsonElement> CallAsync(string requestJson)
    {
        await SendRawAsync(requestJson);
        return await ReadReplyAsync();
    }

    /// <summary>
    /// Reads (and discards) until the server closes or resets the connection. True when that happened
    /// within <paramref name="timeout"/> (default <see cref="TestTimeouts.Unexpected"/>), false when the
    /// connection was still open.
    /// </summary>
    public async Task<bool> WaitForServerToCloseAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout ?? TestTimeouts.Unexpected);
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (await _stream.ReadAsync(buffer, deadline.Token) > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true; // reset by the server: closed, just less politely
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync() => await _stream.DisposeAsync();
}
