using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Unicode;
using Lab.Protocol;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Lab.Protocol.Framing;
using Lab.Protocol.Messages;

namespace Lab.Client.Transport;

/// <summary>Mirrors the lab's <c>TCPClient</c>: one TCP connection to one server, carrying one call after
/// another (lab requirements §3, §7).</summary>
/// <remarks><para>
/// A call has four phases, each with its own timeout from <see cref="ClientSettings"/> and its own
/// typed error naming the phase and the server: connect (<see cref="RpcConnectException"/>), write the
/// request (<see cref="RpcWriteException"/>), wait for the reply to start (<see cref="RpcCallTimeoutException"/>),
/// read the rest of it (<see cref="RpcReadException"/>). An error reply is not a connection failure: it
/// becomes an <see cref="RpcRemoteException"/> and the connection stays usable.</para>
/// <para>Any transport failure or timeout marks the connection <see cref="IsBroken"/> and it is never used
/// again: after a timeout the late reply may still arrive, and the next call on this connection
/// would read it as its own answer.</para>
/// <para>Concurrency: one call at a time (replies come back in request order, and the lab's protocol has no
/// request ids to match them otherwise). <see cref="ConnectionPool"/> gives each call a connection of
/// its own. <see cref="DisposeAsync"/> may be called from another thread to abort a call in progress.</para>
/// <example><code>
/// await using ServerConnection connection = await ServerConnection.ConnectAsync("127.0.0.1", 8089, settings);
/// long sum = await connection.CallAsync("add", [1, 2], null, res =&gt; res.GetInt64());
/// </code></example></remarks>
public sealed class ServerConnection : IAsyncDisposable
{
    // More than this many bytes waiting on an idle connection is more than the newline after a reply.
    private const int MaxIdleWhitespace = 16;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly MessageReader _reader;
    private readonly MessageWriter _writer;
    private readonly ClientSettings _settings;
    private int _disposed;
    private string? _abortReason;

    private ServerConnection(Socket socket, string server, ClientSettings settings)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new MessageReader(_stream, settings.MaxMessageSize);
        _writer = new MessageWriter(_stream);
        _settings = settings;
        Server = server;
    }

    /// <summary>The server, <c>host:port</c> (<c>[::1]:8089</c> for IPv6).</summary>
    public string Server { get; }

    /// <summary>Set once a call failed on the transport: the connection must not carry another call.</summary>
    public bool IsBroken { get; private set; }

    /// <summary>Opens a connection, within <c>connect_timeout</c>.</summary>
    /// <exception cref="RpcConnectException">Refused, unreachable, unresolvable, or too slow.</exception>
    public static async Task<ServerConnection> ConnectAsync(string host, int port, ClientSettings settings, CancellationToken cancellationToken = default)
    {
        string server = HostAddress.Format(host, port);
        string bareHost = host.Trim('[', ']');
        // An IP literal decides the address family; a name gets a dual-mode socket that can reach
        // whichever family the name resolves to.
        Socket socket = IPAddress.TryParse(bareHost, out IPAddress? address)
            ? new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        EndPoint endPoint = address is null ? new DnsEndPoint(bareHost, port) : new IPEndPoint(address, port);
        // Small request, small reply, wait: without NoDelay, Nagle's algorithm can hold a request back
        // for the previous segment's ACK and add tens of milliseconds to every call.
        socket.NoDelay = true;

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(settings.ConnectTimeout);
        try
        {
            await socket.ConnectAsync(endPoint, deadline.Token);
            return new ServerConnection(socket, server, settings);
        }
        catch (Exception ex)
        {
            socket.Dispose();
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                throw new RpcConnectException(server, $"timed out after {settings.ConnectTimeout.TotalSeconds:0.###} s (connect_timeout)");
            if (ex is SocketException)
                throw new RpcConnectException(server, ex.Message, ex);
            throw;
        }
    }

    /// <summary>True when an idle connection still looks alive and in step. A server that closed it (restarted,
    /// stopped, idle-timed it out) has sent FIN, which makes the socket readable with nothing to read. Using
    /// such a connection would send the request into a dead socket; checking first turns that into a
    /// "request never sent" case the pool handles by opening a fresh connection. And a server that sent
    /// anything but the newline after its last reply is out of step: the next call would read that as its answer.</summary>
    public bool IsReusable()
    {
        try
        {
            if (IsBroken || Volatile.Read(ref _disposed) != 0 || _reader.HasDataAfterMessage)
                return false;
            if (!_socket.Poll(0, SelectMode.SelectRead))
                return true;   // nothing has arrived since the last reply: the normal idle connection

            // Readable with 0 bytes available = end of stream or error. Readable with bytes available is
            // fine only for the newline after the last reply (the reader skips whitespace); a peek tells.
            int available = _socket.Available;
            Span<byte> waiting = stackalloc byte[MaxIdleWhitespace];
            return available is > 0 and <= MaxIdleWhitespace
                   && waiting[.._socket.Receive(waiting, SocketFlags.Peek)].IndexOfAnyExcept(" \t\r\n"u8) < 0;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Sends one request and reads its reply. <paramref name="readResult"/> turns the reply's <c>res</c>
    /// into the caller's value while the reply buffer is still valid, so nothing is copied.</summary>
    /// <exception cref="RpcWriteException">The request could not be written within <c>write_timeout</c>.</exception>
    /// <exception cref="RpcCallTimeoutException">No reply started within <c>call_timeout</c>.</exception>
    /// <exception cref="RpcReadException">The reply broke off, was too slow (<c>read_timeout</c>), or was not a reply.</exception>
    /// <exception cref="RpcRemoteException">The server answered with an error reply; the connection stays usable.</exception>
    public async Task<T> CallAsync<T>(
        string method,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        Func<JsonElement, T> readResult,
        CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (IsBroken)
            throw new InvalidOperationException($"the connection to {Server} is broken and cannot carry another call");

        // An argument that cannot be serialized fails here, before any byte is sent: the connection is fine.
        try
        {
            RpcRequest.Write(_writer.Json, method, args, kwargs);
        }
        catch
        {
            _writer.Discard();
            throw;
        }

        await SendRequestAsync(cancellationToken);
        ReadOnlyMemory<byte> message = await ReadReplyAsync(cancellationToken);
        return InterpretReply(method, message, readResult);
    }

    /// <summary>Closes the socket; a call waiting for its reply fails with an <see cref="RpcReadException"/> saying <paramref name="reason"/>.</summary>
    public ValueTask AbortAsync(string? reason)
    {
        _abortReason = reason;
        return DisposeAsync();
    }

    /// <summary>Closes the socket; a call in progress on it fails with a read or write error.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        IsBroken = true;
        // Only the socket is closed. The writer holds nothing but memory, and a call still running on
        // another thread may be inside it: disposing it under that call would trade the clean
        // "connection closed" error that call gets now for an unrelated ObjectDisposedException.
        await _stream.DisposeAsync();
    }

    private async Task SendRequestAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_settings.WriteTimeout);
        try
        {
            await _writer.SendAsync(deadline.Token);
        }
        catch (Exception ex)
        {
            // Whatever happened, part of a request may be on the wire: this connection is done.
            IsBroken = true;
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                throw new RpcWriteException(Server, $"timed out after {_settings.WriteTimeout.TotalSeconds:0.###} s (write_timeout); the server is not reading");
            if (ex is IOException or SocketException or ObjectDisposedException)
                throw new RpcWriteException(Server, ex.Message, ex);
            throw;
        }
    }

    // The framing layer already splits the two waiting phases: with no byte of the reply yet, only
    // the call timeout applies (the server is still working); once the first byte is in, the rest
    // must follow within read_timeout. The call timeout still bounds the whole wait, so a reply that
    // is still arriving when it passes ends as a call timeout too: the call as a whole took too long.
    private async Task<ReadOnlyMemory<byte>> ReadReplyAsync(CancellationToken cancellationToken)
    {
        using var callDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        callDeadline.CancelAfter(_settings.CallTimeout);
        try
        {
            ReadOnlyMemory<byte> reply = await _reader.ReadMessageAsync(_settings.ReadTimeout, callDeadline.Token)
                                         ?? throw new RpcReadException(Server, _abortReason ?? "the server closed the connection without replying");
            // One request, one reply: anything after it is not ours, and the next call would take it for
            // its answer. This reply is still the answer to this request; the connection is not reused.
            if (_reader.HasDataAfterMessage)
                IsBroken = true;
            return reply;
        }
        catch (Exception ex)
        {
            // Whatever happened, a late reply would be read by the next call on this connection.
            IsBroken = true;
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                throw new RpcCallTimeoutException(Server, _settings.CallTimeout);
            if (ex is MessageReadTimeoutException)
                throw new RpcReadException(Server, $"the reply started but did not finish within the read timeout ({ex.Message})", ex);
            if (ex is FramingException or IOException or SocketException or ObjectDisposedException)
                throw new RpcReadException(Server, _abortReason ?? ex.Message, ex);
            throw;
        }
    }

    private T InterpretReply<T>(string method, ReadOnlyMemory<byte> message, Func<JsonElement, T> readResult)
    {
        // JSON is UTF-8, but the parser lets invalid bytes through inside strings, and reading one later
        // throws far from here (it used to end the client program). A server that sends them is broken.
        if (!Utf8.IsValid(message.Span))
        {
            IsBroken = true;
            throw new RpcReadException(Server, "the reply is not valid UTF-8 text");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(message, ProtocolJson.DocumentOptions);
        }
        catch (JsonException ex)
        {
            IsBroken = true;
            throw new RpcReadException(Server, $"the reply is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            RpcReply reply;
            try
            {
                reply = RpcReply.Parse(document.RootElement);
            }
            catch (Exception ex) when (ex is BadRequestException or InvalidOperationException)
            {
                // Framing is intact, but a server that sends the wrong shape (or an error text escaping half a
                // character, "\ud800") cannot be trusted to stay in step.
                IsBroken = true;
                throw new RpcReadException(Server, $"the reply is not an RPC reply: {(ex is BadRequestException ? ex.Message : "a string in it is not valid Unicode text")}", ex);
            }

            return reply.Error switch
            {
                { Code: RpcErrorCode.ServerBusy } busy => throw new RpcServerBusyException(Server, method, busy.Message),
                { } error => throw new RpcRemoteException(Server, method, error.Code, error.Message),
                null => ReadResult(reply.Result, readResult),
            };
        }
    }

    // JsonElement's getters throw InvalidOperationException for a value of another kind (GetInt64 on a
    // string) or a string escaping half a character ("\ud800", valid JSON no .NET string can hold). Either
    // is a result that cannot be read as T: a JsonException, as from the serializer, and the connection stays usable.
    private static T ReadResult<T>(JsonElement result, Func<JsonElement, T> readResult)
    {
        try
        {
            return readResult(result);
        }
        catch (InvalidOperationException ex)
        {
            throw new JsonException($"the result cannot be read: {ex.Message}", ex);
        }
    }
}
