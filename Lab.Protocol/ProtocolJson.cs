using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lab.Protocol;

/// <summary>The one set of JSON settings every RpcLab program uses on the wire and over HTTP.</summary>
public static class ProtocolJson
{
    /// <summary>
    /// Serializer options for message bodies. Wire names are written explicitly
    /// (<c>method_name</c>, <c>res</c>...), so no naming policy is applied.
    /// </summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    /// <summary>Writer options: compact output, non-ASCII text (e.g. Chinese names) kept readable.</summary>
    public static JsonWriterOptions WriterOptions { get; } = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        // Deeply nested results are a sign of a bug, not a use case; the reader has the same cap.
        MaxDepth = 64,
    };

    /// <summary>Reader options shared by the framing layer and request parsing.</summary>
    public static JsonDocumentOptions DocumentOptions { get; } = new() { MaxDepth = 64 };

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.General)
        {
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            MaxDepth = 64,
        };
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
