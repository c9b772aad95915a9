using System.Text.Json;

namespace Lab.Protocol.Framing;

/// <summary>Splits a TCP byte stream into JSON messages — the lab's "sticky packet" (粘包) lesson.</summary>
/// <remarks><para>
/// TCP delivers bytes, not messages: one read may hold half a message, or three messages and the
/// start of a fourth. The original lab called <c>recv(1024)</c> and treated whatever came back as one
/// message, which broke on every message over 1024 bytes. Here a message ends exactly where its JSON
/// value ends, and we find that point by tokenizing the bytes as they arrive with
/// <see cref="Utf8JsonReader"/> in incremental mode (<c>isFinalBlock: false</c>), remembering the
/// tokenizer's state between reads so no byte is scanned twice. Newlines between messages are
/// plain JSON whitespace, so peers that send no newline work too.</para>
/// <para>Concurrency: one reader per connection, used by one loop at a time. Not thread-safe.</para>
/// <example><code>
/// var reader = new MessageReader(networkStream, maxMessageSize: 1 &lt;&lt; 20);
/// while (await reader.ReadMessageAsync(TimeSpan.FromSeconds(10), token) is { } message)
/// {
///     using JsonDocument document = JsonDocument.Parse(message);   // the bytes are valid until the next read
/// }
/// </code></example></remarks>
public sealed class MessageReader
{
    private const int InitialBufferSize = 4096;

    private readonly Stream _stream;
    private readonly int _maxMessageSize;

    // _buffer[_start.._end) holds bytes received and not yet handed out as messages;
    // _buffer[_start.._scanned) has already been fed to the tokenizer, whose state is _tokenizer.
    private byte[] _buffer = new byte[InitialBufferSize];
    private int _start;
    private int _end;
    private int _scanned;
    private JsonReaderState _tokenizer;

    // The message returned by the previous call occupies _buffer[_start.._consumedUpTo); it stays
    // valid until the next call, which is when we release it.
    private int _consumedUpTo = -1;

    public MessageReader(Stream stream, int maxMessageSize)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageSize, 2);
        _stream = stream;
        _maxMessageSize = maxMessageSize;
    }

    /// <summary>How long a read may wait for a message to begin; then <see cref="IdleConnectionException"/>. Infinite by
    /// default (a client keeps connections for reuse); the server sets <c>idle_timeout</c> so silent peers cannot
    /// hold its descriptors for ever.</summary>
    public TimeSpan IdleTimeout { get; init; } = Timeout.InfiniteTimeSpan;

    // Bytes of a started, unfinished message (0 when idle between messages).
    private int PendingBytes => _end - _start;

    /// <summary>True when bytes other than whitespace have already arrived after the message the last read
    /// returned. A peer that answers one request with one reply (a server, to our client) has then sent
    /// more than it was asked for, and whatever it is would be read as the answer to the next request.</summary>
    public bool HasDataAfterMessage
    {
        get
        {
            int from = _consumedUpTo >= 0 ? _consumedUpTo : _start;
            return _buffer.AsSpan(from, _end - from).IndexOfAnyExcept(" \t\r\n"u8) >= 0;
        }
    }

    /// <summary>Reads the next complete JSON value. Waiting for a message to begin is limited by
    /// <see cref="IdleTimeout"/> (cancel <paramref name="cancellationToken"/> to stop); once its first
    /// byte has arrived the rest must arrive within <paramref name="restOfMessageTimeout"/>.</summary>
    /// <returns>The message's UTF-8 bytes, valid until the next call; or <c>null</c> when the peer closed the
    /// connection cleanly between messages.</returns>
    /// <exception cref="MalformedMessageException">The bytes are not JSON; close the connection.</exception>
    /// <exception cref="MessageTooLargeException">The message exceeds the maximum size; close the connection.</exception>
    /// <exception cref="IncompleteMessageException">The peer closed the connection mid-message.</exception>
    /// <exception cref="MessageReadTimeoutException">The rest of a started message did not arrive in time.</exception>
    /// <exception cref="IdleConnectionException">No message began within <see cref="IdleTimeout"/>.</exception>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadMessageAsync(TimeSpan restOfMessageTimeout, CancellationToken cancellationToken = default)
    {
        ReleasePreviousMessage();

        // One deadline per call: first the idle limit (waiting for a message to begin), re-armed once to
        // the rest-of-message limit when its first byte arrives, so a slow trickle cannot extend either.
        CancellationTokenSource? messageDeadline = null;
        bool deadlineIsForMessage = false;
        try
        {
            while (true)
            {
                SkipWhitespaceBeforeMessage();
                if (TryFindMessageEnd(out int messageEnd))
                {
                    _consumedUpTo = messageEnd;
                    return _buffer.AsMemory(_start, messageEnd - _start);
                }

                bool started = PendingBytes > 0;
                TimeSpan limit = started ? restOfMessageTimeout : IdleTimeout;
                if (messageDeadline is null && limit != Timeout.InfiniteTimeSpan)
                {
                    messageDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    messageDeadline.CancelAfter(limit);
                    deadlineIsForMessage = started;
                }
                else if (messageDeadline is not null && started && !deadlineIsForMessage)
                {
                    messageDeadline.CancelAfter(restOfMessageTimeout);
                    deadlineIsForMessage = true;
                }

                CancellationToken readToken = messageDeadline?.Token ?? cancellationToken;

                int read;
                try
                {
                    read = await _stream.ReadAsync(MakeRoomForRead(), readToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (messageDeadline is { IsCancellationRequested: true }
                                                          && !cancellationToken.IsCancellationRequested)
                {
                    throw PendingBytes == 0
                        ? new IdleConnectionException(IdleTimeout)
                        : new MessageReadTimeoutException(restOfMessageTimeout, PendingBytes);
                }

                if (read == 0)
                    return PendingBytes == 0 ? null : throw new IncompleteMessageException(PendingBytes);

                _end += read;
            }
        }
        finally
        {
            messageDeadline?.Dispose();
        }
    }

    private void ReleasePreviousMessage()
    {
        if (_consumedUpTo >= 0)
        {
            _start = _consumedUpTo;
            _scanned = _start;
            _tokenizer = default;
            _consumedUpTo = -1;
        }
    }

    // Whitespace between messages belongs to no message: dropping it keeps an idle connection's
    // trailing "\n" from counting as a started message (which would put it on a read deadline).
    private void SkipWhitespaceBeforeMessage()
    {
        if (_scanned != _start)
            return;

        while (_start < _end && _buffer[_start] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
            _start++;

        _scanned = _start;
    }

    // Feeds the not-yet-scanned bytes to the tokenizer. True when a top-level value ended.
    private bool TryFindMessageEnd(out int messageEnd)
    {
        messageEnd = 0;
        if (_scanned == _end)
            return false;

        var tokenizer = new Utf8JsonReader(_buffer.AsSpan(_scanned, _end - _scanned), isFinalBlock: false, _tokenizer);
        try
        {
            while (tokenizer.Read())
            {
                // Depth 0 after a token means the top-level value is done, unless that token opened it.
                if (tokenizer.CurrentDepth == 0
                    && tokenizer.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
                {
                    messageEnd = _scanned + (int)tokenizer.BytesConsumed;
                    return messageEnd - _start <= _maxMessageSize
                        ? true
                        : throw new MessageTooLargeException(_maxMessageSize);
                }
            }
        }
        catch (JsonException ex)
        {
            throw new MalformedMessageException($"not valid JSON at byte {_scanned - _start + tokenizer.BytesConsumed} of the message: {ex.Message}", ex);
        }

        // Out of data mid-value: remember how far the tokenizer got; the unfinished token's bytes
        // stay in the buffer and are fed again with the next read.
        _scanned += (int)tokenizer.BytesConsumed;
        _tokenizer = tokenizer.CurrentState;
        if (_end - _start > _maxMessageSize)
            throw new MessageTooLargeException(_maxMessageSize);

        return false;
    }

    // Returns free space after _end, first moving the pending bytes to the front of the buffer
    // and, if that is not enough, growing it (never past what one maximum-size message needs).
    private Memory<byte> MakeRoomForRead()
    {
        if (_start > 0)
        {
            int pending = _end - _start;
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, pending);
            _scanned -= _start;
            _end = pending;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            // One byte over the maximum is enough to prove a message is too large.
            int newSize = (int)Math.Min((long)_buffer.Length * 2, (long)_maxMessageSize + 1);
            Array.Resize(ref _buffer, Math.Max(newSize, _buffer.Length + 1));
        }

        return _buffer.AsMemory(_end);
    }
}
