using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Unicode;
using Lab.Protocol;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Lab.Protocol.Framing;
using Lab.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace Lab.Server;

/// <summary>One client connection on the server: read a request, dispatch it, write the reply, repeat — the
/// per-connection handler the lab's <c>TCPServer</c> started a thread for. <see cref="TcpServer"/>
/// creates one per accepted socket and owns the task running <see cref="RunAsync"/>.</summary>
/// <remarks><para>
/// Every failure is classified where it happens (CONTRIBUTING.md rule 6). Per request — the framing layer still
/// knows where the next message starts, so we reply and carry on: valid JSON that is not a request
/// (BadRequest), an unknown method, arguments that do not bind, a method that throws or times out.
/// Per connection — the stream cannot be trusted any more, so we reply if we can and close: bytes that
/// are not JSON (BadRequest), a message over the size limit (MessageTooLarge), half a message followed
/// by silence (read timeout), a client that does not read its replies (write timeout), a reset.
/// Nothing here can affect another connection: each has its own socket, buffers and task.</para>
/// <para>Concurrency: one request loop per connection, one call at a time, so replies go out in request order.
/// The loop awaits each call's result; the method itself runs on a thread of its own and is answered at its
/// deadline by <see cref="ServerStub.DispatchAsync"/>, so a method that blocks never holds this loop.</para>
/// <example><code>
/// var connection = new RpcConnection(socket, stub, settings, logger);
/// await connection.RunAsync(drainToken, abortToken);   // returns when the connection is closed
/// socket.Dispose();
/// </code></example></remarks>
internal sealed class RpcConnection(Socket socket, ServerStub stub, ServerSettings settings, ILogger logger)
{
    public string Peer { get; } = HostAddress.Format(socket.RemoteEndPoint);

    /// <summary>Calls answered so far.</summary>
    public int Calls { get; private set; }

    /// <summary>Serves requests until the client leaves, a connection-level error, or a stop. Completes with why
    /// the connection ended; the owner logs it once the socket is closed and its resources are freed.</summary>
    /// <param name="drainToken">Graceful stop: finish the call in progress, then close; an idle connection closes at once.</param>
    /// <param name="abortToken">End of the drain deadline: give up on the call in progress too.</param>
    public async Task<string> RunAsync(CancellationToken drainToken, CancellationToken abortToken)
    {
        logger.LogInformation("Connection from {Peer} opened", Peer);
        var stream = new NetworkStream(socket, ownsSocket: false);
        var reader = new MessageReader(stream, settings.MaxMessageSize) { IdleTimeout = settings.IdleTimeout };
        var writer = new MessageWriter(stream);
        string reason = "server stopping";
        bool lingerForErrorReply = false;
        try
        {
            // Requests already buffered behind the current one are not started once a stop began.
            while (!drainToken.IsCancellationRequested)
            {
                ReadOnlyMemory<byte>? message;
                try
                {
                    // Idle between requests up to idle_timeout (a client may keep a connection for reuse);
                    // once a request's first byte arrived, the rest must come within read_timeout.
                    message = await reader.ReadMessageAsync(settings.ReadTimeout, drainToken).ConfigureAwait(false);
                }
                catch (FramingException ex) when (ex is MalformedMessageException or MessageTooLargeException)
                {
                    // We cannot tell where the next message would start. Say why, then close.
                    bool tooLarge = ex is MessageTooLargeException;
                    await TrySendErrorAsync(writer, tooLarge ? RpcErrorCode.MessageTooLarge : RpcErrorCode.BadRequest, ex.Message, abortToken).ConfigureAwait(false);
                    (reason, lingerForErrorReply) = (tooLarge ? $"message too large (over {settings.MaxMessageSize} bytes)" : "bad request: not valid JSON", true);
                    break;
                }
                catch (FramingException ex)
                {
                    // Half a message then silence (read timeout) or then a hang-up: nobody to answer.
                    reason = ex.Message;
                    break;
                }
                catch (OperationCanceledException) when (drainToken.IsCancellationRequested)
                {
                    break;
                }

                if (message is null)
                {
                    reason = "client closed the connection";
                    break;
                }

                await HandleRequestAsync(message.Value, writer, abortToken).ConfigureAwait(false);
            }
        }
        catch (TimeoutException ex)
        {
            reason = ex.Message;
        }
        catch (OperationCanceledException) when (abortToken.IsCancellationRequested)
        {
            reason = "server stopping (drain deadline passed)";
        }
        catch (IOException ex)
        {
            reason = $"connection lost: {(ex.InnerException ?? ex).Message}";
        }
        catch (Exception ex)
        {
            // A bug in this loop ends this connection only, and says so loudly.
            logger.LogError(ex, "Connection from {Peer} failed", Peer);
            reason = $"internal error: {ex.Message}";
        }

        if (lingerForErrorReply)
            await LingerAsync(stream, abortToken).ConfigureAwait(false);
        writer.Dispose();
        await stream.DisposeAsync().ConfigureAwait(false);
        return reason;
    }

    // One request, one reply. Errors here are per request: the connection carries on.
    private async Task HandleRequestAsync(ReadOnlyMemory<byte> message, MessageWriter writer, CancellationToken abortToken)
    {
        long started = Stopwatch.GetTimestamp();
        string methodName = "(bad request)";
        CallResult result;
        JsonDocument? document = null;
        try
        {
            try
            {
                // The framing layer proved this is one JSON value, but its tokenizer does not check the text
                // inside strings: invalid UTF-8 is refused here, for this request only.
                if (!Utf8.IsValid(message.Span))
                    throw new BadRequestException("the request is not valid UTF-8 text");
                document = JsonDocument.Parse(message, ProtocolJson.DocumentOptions);
                RpcRequest request = RpcRequest.Parse(document.RootElement);
                methodName = request.MethodName;
                // From here the call is in flight: a graceful stop waits for it (drain_timeout).
                logger.LogDebug("{Peer} {Method} started", Peer, methodName);
                result = await stub.DispatchAsync(request, abortToken).ConfigureAwait(false);
            }
            catch (BadRequestException ex)
            {
                result = CallResult.Failure(RpcErrorCode.BadRequest, ex.Message);
            }
            catch (JsonException ex)
            {
                // Tokens were fine but the value is not usable: nested deeper than the limit, or a repeated key.
                result = CallResult.Failure(RpcErrorCode.BadRequest, ProtocolJson.Explain(ex));
            }
            catch (InvalidOperationException)
            {
                // Comparing keys for duplicates decodes them; a key escaping half a character ("\ud800") fails there.
                result = CallResult.Failure(RpcErrorCode.BadRequest, ProtocolJson.UnpairedSurrogate("a key"));
            }

            await ReplyAsync(methodName, result, started, message.Length, writer, abortToken).ConfigureAwait(false);
        }
        finally
        {
            document?.Dispose();
        }
    }

    // One way out for every reply, so each is counted and logged alike.
    private async Task ReplyAsync(string methodName, CallResult result, long started, int requestBytes, MessageWriter writer, CancellationToken abortToken)
    {
        result = result.WriteTo(writer);
        Calls++;
        ServerMetrics.CallAnswered(methodName, result.ErrorCode, Stopwatch.GetElapsedTime(started), requestBytes, writer.Json.BytesCommitted + writer.Json.BytesPending + 1);
        if (result.IsSuccess)
            logger.LogDebug("{Peer} {Method} -> ok in {Milliseconds:0.0} ms", Peer, methodName, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        else
            logger.LogWarning("{Peer} {Method} -> {Code}: {Message}", Peer, methodName, result.ErrorCode, result.ErrorMessage);
        if (abortToken.IsCancellationRequested)
        {
            // Past the drain deadline: one last, short try to tell the caller before its connection
            // closes. This second is the "grace" a stop may take beyond drain_timeout.
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await writer.SendAsync(grace.Token).ConfigureAwait(false);
            return;
        }

        await SendAsync(writer, abortToken).ConfigureAwait(false);
    }

    /// <exception cref="TimeoutException">The client did not take the reply within write_timeout.</exception>
    private async Task SendAsync(MessageWriter writer, CancellationToken abortToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(abortToken);
        deadline.CancelAfter(settings.WriteTimeout);
        try
        {
            await writer.SendAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!abortToken.IsCancellationRequested)
        {
            throw new TimeoutException($"write timed out after {settings.WriteTimeout.TotalSeconds:0.###} s: the client is not reading its replies");
        }
    }

    // Best effort: the connection is being closed anyway, so a failure here only loses the explanation.
    private async Task TrySendErrorAsync(MessageWriter writer, RpcErrorCode code, string message, CancellationToken abortToken)
    {
        logger.LogWarning("{Peer} {Method} -> {Code}: {Message}", Peer, "(unreadable message)", code, message);
        try
        {
            RpcReply.WriteError(writer.Json, code, message);
            await SendAsync(writer, abortToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            logger.LogDebug(ex, "Could not send the {Code} reply to {Peer}", code, Peer);
        }
    }

    // Closing a socket with unread input makes the kernel send a reset, which can destroy our error reply
    // before the client reads it. So: send our FIN, then discard input until the client closes or read_timeout.
    private async Task LingerAsync(NetworkStream stream, CancellationToken abortToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(abortToken);
        deadline.CancelAfter(settings.ReadTimeout);
        byte[] discard = new byte[4096];
        try
        {
            socket.Shutdown(SocketShutdown.Send);
            while (await stream.ReadAsync(discard, deadline.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client reset or stayed silent: either way we are done with it.
        }
    }
}
