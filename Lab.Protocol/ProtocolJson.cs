using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lab.Protocol;

/// <summary>The one set of JSON settings every RpcLab program uses on the wire and over HTTP.</summary>
public static class ProtocolJson
{
    // Deeply nested values are a sign of a bug, not a use case: reader and writer share one cap.
    private const int MaxDepth = 64;

    /// <summary>Serializer options for message bodies: wire names are written explicitly (<c>method_name</c>,
    /// <c>res</c>...), so no naming policy; non-ASCII text (e.g. Chinese names) is kept readable.</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    /// <summary>Writer options: compact output, the same encoder and depth cap as <see cref="Options"/>.</summary>
    public static JsonWriterOptions WriterOptions { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, MaxDepth = MaxDepth };

    /// <summary>Reader options for the JSON a peer sends: requests, replies, registry bodies, and each entry of a
    /// registry's or etcd's list (the list itself: <see cref="ListOptions"/>). A repeated key is refused at every
    /// level: which of two <c>method_name</c>s or <c>host</c>s did the sender mean?</summary>
    public static JsonDocumentOptions DocumentOptions { get; } = new() { MaxDepth = MaxDepth, AllowDuplicateProperties = false };

    /// <summary>Reader options for a list whose entries are then read one at a time with <see cref="DocumentOptions"/>
    /// (a registry's answer). The duplicate-key check reads every key, and one it cannot read ("\ud800") would
    /// make the whole list unreadable; here it waits for the entry, so only that entry is lost.</summary>
    public static JsonDocumentOptions ListOptions { get; } = new() { MaxDepth = MaxDepth };

    /// <summary>A <see cref="JsonException"/>'s message without the parser's position and type-name noise, e.g.
    /// <c>duplicate key "method_name"</c>: what a person reading an error reply needs.</summary>
    public static string Explain(JsonException exception)
    {
        string message = exception.Message;
        int noise = message.IndexOf(" Path:", StringComparison.Ordinal);
        message = noise > 0 ? message[..noise] : message;
        return message.Contains("uplicate", StringComparison.Ordinal) && message.Split('\'') is { Length: >= 3 } parts
            ? $"duplicate key \"{parts[1]}\": each key may appear once"
            : message.TrimEnd('.');
    }

    /// <summary>The error text for a string escaping half a character (<c>"\ud800"</c>), which .NET strings cannot hold.</summary>
    public static string UnpairedSurrogate(string field) => $"{field} is not valid Unicode text (an unpaired surrogate such as \\ud800)";

    /// <summary>A JSON kind as error messages name it: "an object", "a string", "null"...</summary>
    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.General) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, MaxDepth = MaxDepth };
        // With a resolver filled in, GetTypeInfo (the server's argument binding) works on these options.
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
