using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace Lab.Server.Demo;

/// <summary>
/// Python's <c>str()</c> of a JSON value, so the demo methods that format text answer what the
/// lab's Python methods answer: <c>hi(0)</c> is <c>"hi 0, welcome"</c>, <c>hello(true)</c> is
/// <c>"Hello, True!"</c>, and <c>None</c>, <c>1.0</c>, <c>[1, 2]</c>, <c>{'a': 1}</c> are spelled as
/// Python spells them. Pure functions; safe from any thread.
/// </summary>
public static class PythonText
{
    /// <summary><c>str(value)</c>: a string as itself, anything else as <see cref="Repr"/>.</summary>
    public static string Str(JsonElement value) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : Repr(value);

    /// <summary><c>repr(value)</c>, as Python shows values inside a list or dict.</summary>
    public static string Repr(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True => "True",
        JsonValueKind.False => "False",
        JsonValueKind.Null => "None",
        JsonValueKind.String => QuoteString(value.GetString()!),
        JsonValueKind.Array => "[" + string.Join(", ", value.EnumerateArray().Select(Repr)) + "]",
        JsonValueKind.Object => "{" + string.Join(", ", value.EnumerateObject().Select(p => $"{QuoteString(p.Name)}: {Repr(p.Value)}")) + "}",
        // Python's json reads a number without '.', 'e' or 'E' as an int (of any size), the rest as a float.
        _ when value.GetRawText().AsSpan().IndexOfAny(".eE") < 0 => BigInteger.Parse(value.GetRawText(), CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture),
        _ => FloatRepr(value.GetDouble()),
    };

    /// <summary>Python's float repr: the shortest round-trip digits, fixed from 1e-4 to below 1e16, else 1e+16.</summary>
    public static string FloatRepr(double number)
    {
        if (!double.IsFinite(number))
        {
            return double.IsNaN(number) ? "nan" : number > 0 ? "inf" : "-inf";
        }

        // "R" gives the shortest round-trip digits as .NET writes them (1E+16, 1.5E-05, 123.45).
        string shortest = number.ToString("R", CultureInfo.InvariantCulture);
        string sign = shortest.StartsWith('-') ? "-" : "";
        string[] parts = shortest.TrimStart('-').Split('E');
        string[] mantissa = parts[0].Split('.');
        string digits = mantissa[0] + (mantissa.Length > 1 ? mantissa[1] : "");
        int point = mantissa[0].Length + (parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : 0);
        int leadingZeros = digits.Length - digits.TrimStart('0').Length;
        (digits, point) = (digits.Trim('0'), point - leadingZeros);
        if (digits.Length == 0)
        {
            return sign + "0.0";
        }

        int exponent = point - 1;
        if (exponent is < -4 or >= 16)
        {
            string scientific = digits.Length > 1 ? $"{digits[0]}.{digits[1..]}" : digits;
            return string.Create(CultureInfo.InvariantCulture, $"{sign}{scientific}e{(exponent < 0 ? '-' : '+')}{Math.Abs(exponent):00}");
        }

        return sign + (point <= 0 ? "0." + new string('0', -point) + digits
            : point >= digits.Length ? digits + new string('0', point - digits.Length) + ".0"
            : $"{digits[..point]}.{digits[point..]}");
    }

    // Python's string repr: single quotes unless the text has a ' and no ", backslash escapes for the rest.
    private static string QuoteString(string text)
    {
        char quote = text.Contains('\'', StringComparison.Ordinal) && !text.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        var result = new StringBuilder().Append(quote);
        foreach (char c in text)
        {
            result.Append(c switch
            {
                '\\' => @"\\",
                '\n' => @"\n",
                '\r' => @"\r",
                '\t' => @"\t",
                _ when c == quote => "\\" + c,
                _ when c < ' ' || c == '\x7f' => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        }

        return result.Append(quote).ToString();
    }
}
