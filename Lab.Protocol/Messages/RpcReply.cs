using System.Text.Json;

namespace Lab.Protocol.Messages;

/// <summary>A reply on the wire (lab requirements §3). Success: <c>{"res": 8}</c>. Failure:
/// <c>{"res": "message", "error": {"code": "MethodFailed", "message": "message"}}</c> — the message
/// stays in <c>res</c> so clients written for the original lab, which only read <c>res</c>, still
/// show something readable, while our client tells errors from string results by <c>error</c>.</summary>
/// <param name="Result">The <c>res</c> value; valid while the document it was parsed from is alive.</param>
/// <param name="Error">Set when the call failed.</param>
public sealed record RpcReply(JsonElement Result, RpcError? Error)
{
    /// <summary>Reads a reply from a parsed JSON value.</summary>
    /// <exception cref="BadRequestException">The value is not a reply of the prescribed shape.</exception>
    public static RpcReply Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new BadRequestException($"a reply must be a JSON object, not {ProtocolJson.Describe(root.ValueKind)}");
        if (!root.TryGetProperty("res", out JsonElement result))
            throw new BadRequestException("the reply has no \"res\"");
        if (!root.TryGetProperty("error", out JsonElement error) || error.ValueKind == JsonValueKind.Null)
            return new RpcReply(result, null);

        if (error.ValueKind != JsonValueKind.Object
            || !error.TryGetProperty("code", out JsonElement code) || code.ValueKind != JsonValueKind.String
            || !error.TryGetProperty("message", out JsonElement message) || message.ValueKind != JsonValueKind.String)
            throw new BadRequestException("\"error\" must be an object with string \"code\" and \"message\"");

        // An unknown code from a newer server is still an error: keep its text, file it as MethodFailed.
        RpcErrorCode errorCode = Enum.TryParse(code.GetString(), ignoreCase: false, out RpcErrorCode parsed) ? parsed : RpcErrorCode.MethodFailed;
        return new RpcReply(result, new RpcError(errorCode, message.GetString()!));
    }

    /// <summary>Writes a success reply whose result is any .NET value.</summary>
    /// <exception cref="ArgumentException">The value cannot be JSON (NaN, Infinity).</exception>
    /// <exception cref="JsonException">The value cannot be serialized (a cycle, too deep).</exception>
    /// <exception cref="NotSupportedException">The value's type cannot be serialized.</exception>
    public static void WriteSuccess(Utf8JsonWriter writer, object? result)
    {
        writer.WriteStartObject();
        writer.WritePropertyName("res");
        JsonSerializer.Serialize(writer, result, result?.GetType() ?? typeof(object), ProtocolJson.Options);
        writer.WriteEndObject();
    }

    public static void WriteError(Utf8JsonWriter writer, RpcErrorCode code, string message)
    {
        writer.WriteStartObject();
        writer.WriteString("res", message);
        writer.WriteStartObject("error");
        writer.WriteString("code", code.ToString());
        writer.WriteString("message", message);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
