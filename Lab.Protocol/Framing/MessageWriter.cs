using System.Buffers;
using System.Text.Json;

namespace Lab.Protocol.Framing;

/// <summary>Writes JSON messages to a TCP stream: one JSON value followed by <c>\n</c>, so the stream is also
/// valid newline-delimited JSON for humans and tools (<c>nc</c>, <c>jq</c>).</summary>
/// <remarks><para>
/// The message is built in a reusable buffer and sent with a single write, so a reply never reaches
/// the socket half-built, and a value that fails to serialize midway (NaN, a cycle) can be
/// <see cref="Discard">discarded</see> and replaced by an error reply.</para>
/// <para>Concurrency: one writer per connection; callers must not write concurrently.</para>
/// <example><code>
/// var writer = new MessageWriter(networkStream);
/// RpcReply.WriteSuccess(writer.Json, 13);
/// await writer.SendAsync(token);
/// </code></example></remarks>
public sealed class MessageWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);

    public MessageWriter(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        Json = new Utf8JsonWriter(_buffer, ProtocolJson.WriterOptions);
    }

    /// <summary>Where the next message is written: write exactly one JSON value, then call <see cref="SendAsync"/>.</summary>
    public Utf8JsonWriter Json { get; }

    /// <summary>Drops whatever was written since the last send.</summary>
    public void Discard()
    {
        Json.Reset(_buffer);
        _buffer.ResetWrittenCount();
    }

    /// <summary>Sends the message written to <see cref="Json"/>, followed by a newline.</summary>
    /// <exception cref="OperationCanceledException">The token fired (e.g. a write timeout) before the whole message was handed to
    /// the socket; part of it may have gone, so the connection cannot carry another message.</exception>
    public async ValueTask SendAsync(CancellationToken cancellationToken = default)
    {
        Json.Flush();
        _buffer.Write("\n"u8);
        try
        {
            await _stream.WriteAsync(_buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Discard();
        }
    }

    public void Dispose() => Json.Dispose();
}
