using System.Globalization;
using System.Text.Json;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// The harness's own answer for each of the lab's ten demo methods (lab requirements §5), to judge every
/// result line the client prints — the scenario does not trust the server to be right.
/// </summary>
/// <example>
/// <code>
/// DemoOracle.Judge("add", "1, 2", "13")   // null: correct
/// DemoOracle.Judge("add", "1, 2", "3")    // "expected 13"
/// </code>
/// </example>
internal static class DemoOracle
{
    /// <summary>The ten methods the lab requires to be registered at once.</summary>
    public static readonly IReadOnlyList<string> TenDemoMethods =
        ["add", "subtract", "multiply", "divide", "area_of_circle", "square", "to_uppercase", "reverse_string", "hi", "hello"];

    /// <summary>Null when <paramref name="resultText"/> is the right answer, else what was expected.</summary>
    public static string? Judge(string method, string argumentText, string resultText)
    {
        (List<JsonElement> args, Dictionary<string, JsonElement> kwargs) = ParseArguments(argumentText);
        object? expected;
        try
        {
            expected = Expected(method, args, kwargs);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentOutOfRangeException or FormatException or KeyNotFoundException)
        {
            return $"cannot judge {method}({argumentText}): {ex.Message}";
        }

        if (expected is null)
        {
            return null; // not a demo method (sleep, echo...): nothing to compare
        }

        JsonElement? actual = TryParseJson(resultText);
        return expected switch
        {
            double number when actual is { ValueKind: JsonValueKind.Number } value
                && Math.Abs(value.GetDouble() - number) <= 1e-6 * Math.Max(1, Math.Abs(number)) => null,
            string text when (actual is { ValueKind: JsonValueKind.String } value ? value.GetString() : resultText) == text => null,
            _ => $"expected {Show(expected)}",
        };
    }

    private static object? Expected(string method, List<JsonElement> args, Dictionary<string, JsonElement> kwargs)
    {
        JsonElement Arg(int index, string name) =>
            index < args.Count ? args[index] : kwargs.TryGetValue(name, out JsonElement value) ? value : throw new KeyNotFoundException($"no argument {name}");
        double Number(int index, string name) => Arg(index, name).GetDouble();
        string Text(int index, string name) => Arg(index, name) is { ValueKind: JsonValueKind.String } value ? value.GetString()! : Arg(index, name).GetRawText();

        return method switch
        {
            "add" => Number(0, "a") + Number(1, "b") + (args.Count > 2 || kwargs.ContainsKey("c") ? Number(2, "c") : 10),
            "subtract" => Number(0, "a") - Number(1, "b"),
            "multiply" => Number(0, "a") * Number(1, "b"),
            "divide" => Number(0, "a") / Number(1, "b"),
            "area_of_circle" => Math.PI * Number(0, "radius") * Number(0, "radius"),
            "square" => Number(0, "number") * Number(0, "number"),
            "to_uppercase" => Text(0, "string").ToUpperInvariant(),
            "reverse_string" => new string([.. Text(0, "string").Reverse()]),
            "hi" => $"hi {Text(0, "user")}, welcome",
            "hello" => $"Hello, {Text(0, "name")}!",
            _ => null,
        };
    }

    // "1, 2, c=5" or "\"bob\"" or "bob": JSON values separated by top-level commas, name=value for keywords.
    private static (List<JsonElement> Args, Dictionary<string, JsonElement> Kwargs) ParseArguments(string text)
    {
        var args = new List<JsonElement>();
        var kwargs = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (string part in SplitTopLevel(text))
        {
            int equals = part.IndexOf('=', StringComparison.Ordinal);
            bool isKeyword = equals > 0 && part[..equals].Trim().All(c => char.IsLetterOrDigit(c) || c == '_');
            string value = isKeyword ? part[(equals + 1)..].Trim() : part.Trim();
            JsonElement element = TryParseJson(value) ?? JsonSerializer.SerializeToElement(value);
            if (isKeyword)
            {
                kwargs[part[..equals].Trim()] = element;
            }
            else
            {
                args.Add(element);
            }
        }

        return (args, kwargs);
    }

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        int depth = 0, start = 0;
        bool inString = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (inString)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    inString = false;
                }
            }
            else if (c == '"')
            {
                inString = true;
            }
            else if (c is '[' or '{')
            {
                depth++;
            }
            else if (c is ']' or '}')
            {
                depth--;
            }
            else if (c == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }

        if (text[start..].Trim().Length > 0)
        {
            yield return text[start..];
        }
    }

    private static JsonElement? TryParseJson(string text)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Show(object expected) =>
        expected is double number ? number.ToString("R", CultureInfo.InvariantCulture) : JsonSerializer.Serialize(expected);
}
