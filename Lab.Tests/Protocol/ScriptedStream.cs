namespace Lab.Tests.Protocol;

/// <summary>
/// A hand-written read-only stream that hands out its data in the chunks the test chose — one read
/// never returns more than the current chunk — then either ends (a clean close) or stalls until the
/// read is cancelled (a peer that stays silent). It records every read's token, so a test can see
/// whether the reader put that read on a deadline.
/// </summary>
public sealed class ScriptedStream(IEnumerable<byte[]> chunks, bool stallAtEnd = false) : Stream
{
    private readonly Queue<byte[]> _chunks = new(chunks);
    private byte[] _current = [];
    private int _offset;

    /// <summary>For each read, whether its token could be cancelled (i.e. carried a deadline or a caller's token).</summary>
    public List<bool> ReadTokenCanBeCanceled { get; } = [];

    /// <summary>Bytes handed out so far.</summary>
    public long BytesServed { get; private set; }

    public static ScriptedStream OneBytePerRead(byte[] data, bool stallAtEnd = false) =>
        new(data.Select(b => new[] { b }), stallAtEnd);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ReadTokenCanBeCanceled.Add(cancellationToken.CanBeCanceled);
        cancellationToken.ThrowIfCancellationRequested();
        while (_offset == _current.Length)
        {
            if (!_chunks.TryDequeue(out byte[]? next))
            {
                if (!stallAtEnd)
                {
                    return 0;
                }

                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            else
            {
                _current = next;
                _offset = 0;
            }
        }

        int count = Math.Min(buffer.Length, _current.Length - _offset);
        _current.AsMemory(_offset, count).CopyTo(buffer);
        _offset += count;
        BytesServed += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("the reader must read asynchronously");

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A stream that never ends: an optional prefix, then the same bytes forever, counting how many it served.</summary>
public sealed class EndlessStream(byte[] pattern, byte[]? prefix = null) : Stream
{
    private readonly byte[] _prefix = prefix ?? [];

    public long BytesServed { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Span<byte> span = buffer.Span;
        for (int i = 0; i < span.Length; i++)
        {
            long at = BytesServed + i;
            span[i] = at < _prefix.Length ? _prefix[at] : pattern[(int)((at - _prefix.Length) % pattern.Length)];
        }

        BytesServed += span.Length;
        return ValueTask.FromResult(span.Length);
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
