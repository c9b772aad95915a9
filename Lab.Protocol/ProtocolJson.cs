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

    /// <summary>Reader options shared by the framing layer and request parsing.</summary>
    public static JsonDocumentOptions DocumentOptions { get; } = new() { MaxDepth = MaxDepth };

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
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
