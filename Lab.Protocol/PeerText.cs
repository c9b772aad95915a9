using System.Globalization;
using System.Text;

namespace Lab.Protocol;

/// <summary>Text that came from a peer — a server's error message, a registry's answer, a host name in a log
/// line — made safe to print. A terminal obeys the control characters in what it prints: an ESC
/// sequence can recolour it, clear it or move the cursor, a newline can forge a second log line, a
/// right-to-left override can reverse what the reader sees. So every control character (C0, DEL, C1)
/// and the bidirectional overrides are written as <c>\u001b</c>-style escapes, and very long text is
/// shortened, saying how long it was.</summary>
/// <example><code>
/// string shown = PeerText.Printable(error.Message);   // ESC [31m red  becomes the visible text \u001b[31m red
/// </code></example>
public static class PeerText
{
    /// <summary>How many characters of one peer's text are printed by default (an error message, a log field).</summary>
    public const int DefaultMaxLength = 1000;

    /// <summary><paramref name="text"/> with control characters escaped, cut to <paramref name="maxLength"/>
    /// characters plus a note of the full length.</summary>
    public static string Printable(string? text, int maxLength = DefaultMaxLength)
    {
        if (string.IsNullOrEmpty(text))
            return text ?? "";
        string shown = text.Length <= maxLength ? text : text[..maxLength];
        string note = text.Length <= maxLength ? "" : string.Create(CultureInfo.InvariantCulture, $"... ({text.Length:N0} characters)");
        return (NeedsEscaping(shown) ? Escape(shown) : shown) + note;
    }

    /// <summary>True for the characters <see cref="Printable"/> escapes.</summary>
    public static bool IsUnsafe(char c) =>
        char.IsControl(c)                              // C0 (ESC, newline, ...), DEL and C1 (0x9B is a one-byte ESC [)
        || c is >= '\u202A' and <= '\u202E'            // bidirectional embeddings and overrides
        || c is >= '\u2066' and <= '\u2069'            // bidirectional isolates
        || c is '\u2028' or '\u2029';                  // line and paragraph separators

    private static bool NeedsEscaping(string text)
    {
        foreach (char c in text)
        {
            if (IsUnsafe(c))
                return true;
        }

        return false;
    }

    private static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length + 16);
        foreach (char c in text)
        {
            if (IsUnsafe(c))
                escaped.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            else
                escaped.Append(c);
        }

        return escaped.ToString();
    }
}
