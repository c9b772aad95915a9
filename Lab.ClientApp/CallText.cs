using System.Globalization;
using System.Text.Json;
using Lab.Client;
using Lab.Protocol;

namespace Lab.ClientApp;

/// <summary>How the program writes calls and values: <c>add(1, 2, c=5)</c>, <c>hi("bob")</c>, and results as
/// JSON (<c>13</c>, <c>"hi bob, welcome"</c>), so a string result is never confused with a number.
/// Also reads command-line arguments: JSON when they parse as JSON, else plain strings.</summary>
public static class CallText
{
    /// <summary><c>1</c> → the number 1, <c>[1,2]</c> → a list, <c>bob</c> → the string "bob".</summary>
    public static object? ParseArgument(string text)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(text, ProtocolJson.DocumentOptions);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return text;
        }
    }

    /// <summary><c>add(1, 2, c=5)</c>.</summary>
    public static string Call(string method, IReadOnlyList<object?>? args, IReadOnlyDictionary<string, object?>? kwargs = null)
    {
        IEnumerable<string> positional = (args ?? []).Select(Value);
        IEnumerable<string> named = (kwargs ?? new Dictionary<string, object?>()).Select(pair => $"{pair.Key}={Value(pair.Value)}");
        return $"{method}({string.Join(", ", positional.Concat(named))})";
    }

    /// <summary>A value as compact JSON. A result is the server's text: printable (<see cref="PeerText"/>), but
    /// never shortened — it is what the user asked for.</summary>
    public static string Value(object? value) => value switch
    {
        JsonElement element => PeerText.Printable(element.GetRawText(), int.MaxValue),
        double number => number.ToString("R", CultureInfo.InvariantCulture),
        _ => JsonSerializer.Serialize(value, ProtocolJson.Options),
    };

    /// <summary>How a failure reads in one line: <c>InvalidArguments: missing argument b</c>. The message may be a
    /// server's or a registry's words: printable and at most <see cref="PeerText.DefaultMaxLength"/> characters.</summary>
    public static string Failure(Exception failure) => failure switch
    {
        RpcRemoteException remote => $"{remote.Code}: {PeerText.Printable(remote.RemoteMessage)}",
        _ => $"{failure.GetType().Name}: {PeerText.Printable(failure.Message)}",
    };

    /// <summary>The server a failure is charged to in the summaries.</summary>
    public static string ServerOf(Exception failure) => (failure as RpcException)?.Server ?? "(no server)";
}
