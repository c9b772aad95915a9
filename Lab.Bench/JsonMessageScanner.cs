using System.Buffers;

namespace Lab.Bench;

/// <summary>
/// Finds where one JSON object ends in a TCP byte stream without building any value from it —
/// the cheapest framing the wire protocol allows, used by the floor server and the load generator.
/// </summary>
/// <remarks>
/// <para>
/// No lab class: the lab had no benchmark. Its job is the "sticky packet" rule (a message ends where
/// its JSON object ends) at the lowest cost: it only counts brackets outside strings, and jumps over
/// string contents and plain bytes with vectorized searches. It does not validate JSON; that is
/// what makes it a floor. <c>MessageReader</c> is the real, validating framing.
/// </para>
/// <para>
/// It also remembers the first string inside the first array of the object — the payload of
/// <c>{"method_name": "echo", "method_args": ["..."]}</c> — so the floor can echo the same bytes
/// our server would send back.
/// </para>
/// <para>Concurrency: one scanner per connection; not thread-safe.</para>
/// <example>
/// <code>
/// var scanner = new JsonMessageScanner();
/// if (scanner.Scan(buffer.AsSpan(start, end - start), out int length) == ScanResult.Complete)
///     Handle(buffer.AsSpan(start, length)); scanner.Reset();
/// </code>
/// </example>
/// </remarks>
public sealed class JsonMessageScanner
{
    private static readonly SearchValues<byte> Structural = SearchValues.Create("{}[]\""u8);
    private static readonly SearchValues<byte> EndOfStringOrEscape = SearchValues.Create("\"\\"u8);

    // All offsets are relative to the start of the message being scanned.
    private int _scanned;
    private int _depth;
    private bool _inString;
    private bool _afterBackslash;
    private bool _depthTwoIsArray;
    private bool _inPayloadString;

    /// <summary>Offset of the first byte of the echo payload string's contents; -1 when there is none.</summary>
    public int PayloadStart { get; private set; } = -1;

    /// <summary>Offset just past the echo payload string's contents (its closing quote).</summary>
    public int PayloadEnd { get; private set; } = -1;

    /// <summary>True when the message carried a string argument (an echo call).</summary>
    public bool HasPayload => PayloadEnd >= 0;

    /// <summary>Forgets the previous message; call before scanning the next one.</summary>
    public void Reset()
    {
        _scanned = 0;
        _depth = 0;
        _inString = false;
        _afterBackslash = false;
        _depthTwoIsArray = false;
        _inPayloadString = false;
        PayloadStart = -1;
        PayloadEnd = -1;
    }

    /// <summary>
    /// Continues scanning <paramref name="message"/>, which starts at the message's first byte (its
    /// <c>{</c>) and holds every byte received so far; bytes already scanned are not looked at again.
    /// </summary>
    /// <param name="message">The message's bytes received so far.</param>
    /// <param name="length">When complete: the message's length, up to and including its closing <c>}</c>.</param>
    public ScanResult Scan(ReadOnlySpan<byte> message, out int length)
    {
        length = 0;
        // Our peers only send objects; anything else means the stream cannot be framed.
        if (_scanned == 0 && message.Length > 0 && message[0] != (byte)'{')
        {
            return ScanResult.Malformed;
        }

        int i = _scanned;
        while (i < message.Length)
        {
            if (_inString)
            {
                if (_afterBackslash)
                {
                    // The escaped byte (maybe a quote) cannot end the string.
                    _afterBackslash = false;
                    i++;
                    continue;
                }

                int special = message[i..].IndexOfAny(EndOfStringOrEscape);
                if (special < 0)
                {
                    i = message.Length;
                    break;
                }

                i += special;
                if (message[i] == (byte)'\\')
                {
                    _afterBackslash = true;
                }
                else
                {
                    _inString = false;
                    if (_inPayloadString)
                    {
                        _inPayloadString = false;
                        PayloadEnd = i;
                    }
                }

                i++;
                continue;
            }

            int structural = message[i..].IndexOfAny(Structural);
            if (structural < 0)
            {
                i = message.Length;
                break;
            }

            i += structural;
            switch (message[i])
            {
                case (byte)'"':
                    _inString = true;
                    if (_depth == 2 && _depthTwoIsArray && PayloadStart < 0)
                    {
                        _inPayloadString = true;
                        PayloadStart = i + 1;
                    }

                    break;
                case (byte)'{' or (byte)'[':
                    _depth++;
                    if (_depth == 2)
                    {
                        _depthTwoIsArray = message[i] == (byte)'[';
                    }

                    break;
                default: // '}' or ']'
                    _depth--;
                    if (_depth == 0)
                    {
                        length = i + 1;
                        _scanned = length;
                        return ScanResult.Complete;
                    }

                    if (_depth < 0)
                    {
                        return ScanResult.Malformed;
                    }

                    break;
            }

            i++;
        }

        _scanned = i;
        return ScanResult.Incomplete;
    }

    /// <summary>How many of the bytes at the start of <paramref name="bytes"/> are JSON whitespace.</summary>
    public static int CountLeadingWhitespace(ReadOnlySpan<byte> bytes)
    {
        int index = bytes.IndexOfAnyExcept(" \n\r\t"u8);
        return index < 0 ? bytes.Length : index;
    }
}

/// <summary>What <see cref="JsonMessageScanner.Scan"/> found.</summary>
public enum ScanResult
{
    /// <summary>The object has not ended yet: read more bytes and scan again.</summary>
    Incomplete,

    /// <summary>The object ended; its length was returned.</summary>
    Complete,

    /// <summary>Not a JSON object (or more closing than opening brackets): close the connection.</summary>
    Malformed,
}
