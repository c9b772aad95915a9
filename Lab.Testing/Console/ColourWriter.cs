using System.Text;
using System.Text.RegularExpressions;

namespace Lab.Testing;

/// <summary>
/// Colours the verdict words of each line on their way to a terminal: PASS and <c>[ok]</c> green, FAIL,
/// <c>[FAIL]</c> and ERROR red, SKIP and WARN yellow. Only the console sees colour: the reports and
/// anything parsing a redirected output get the plain text, because <see cref="ForConsole"/> returns
/// the console itself when output is redirected or <c>NO_COLOR</c> is set (no-color.org).
/// </summary>
/// <remarks>Buffers one line at a time; not thread-safe by itself, so <see cref="ForConsole"/> wraps it synchronized.</remarks>
/// <example>
/// <code>
/// TextWriter output = ColourWriter.ForConsole(Console.Out);
/// output.WriteLine("PASS  (1.5 s)");   // "PASS" in green on a terminal, plain in a file
/// </code>
/// </example>
public sealed partial class ColourWriter(TextWriter inner) : TextWriter
{
    private const string Reset = "\u001b[0m";
    private readonly StringBuilder _line = new();

    public override Encoding Encoding => inner.Encoding;

    /// <summary>True when <paramref name="isRedirected"/> is false, <c>NO_COLOR</c> is unset or empty and TERM is not "dumb".</summary>
    public static bool ShouldColour(bool isRedirected, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return !isRedirected && string.IsNullOrEmpty(environment("NO_COLOR")) && environment("TERM") != "dumb";
    }

    /// <summary>A colouring writer around <paramref name="console"/> on a terminal; <paramref name="console"/> itself otherwise.</summary>
    public static TextWriter ForConsole(TextWriter console) =>
        ShouldColour(Console.IsOutputRedirected, Environment.GetEnvironmentVariable) ? Synchronized(new ColourWriter(console)) : console;

    /// <summary>The line with ANSI colour codes around each verdict word.</summary>
    public static string Colourise(string line) => Verdicts().Replace(line, match => match.Value switch
    {
        "PASS" or "[ok]" => Green(match.Value),
        "SKIP" or "WARN" => $"\u001b[33m{match.Value}{Reset}",
        _ => $"\u001b[31;1m{match.Value}{Reset}",
    });

    public override void Write(char value)
    {
        if (value == '\n')
        {
            inner.Write(Colourise(_line.ToString()));
            inner.Write('\n');
            _line.Clear();
        }
        else
        {
            _line.Append(value);
        }
    }

    public override void Write(string? value)
    {
        foreach (char c in value ?? "")
        {
            Write(c);
        }
    }

    public override void WriteLine(string? value)
    {
        Write(value);
        Write('\n');
    }

    public override void Flush()
    {
        if (_line.Length > 0)
        {
            inner.Write(Colourise(_line.ToString()));
            _line.Clear();
        }

        inner.Flush();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Flush();
        }

        base.Dispose(disposing);
    }

    private static string Green(string text) => $"\u001b[32;1m{text}{Reset}";

    // Whole words only: "FAILED" or "ERRORS" inside a sentence stay plain.
    [GeneratedRegex(@"\[ok\]|\[FAIL\]|(?<![\w-])(?:PASS|FAIL|SKIP|WARN|ERROR)(?![\w-])", RegexOptions.CultureInvariant)]
    private static partial Regex Verdicts();
}
