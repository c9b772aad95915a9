using System.Text.Json;

namespace Lab.Protocol.Messages;

/// <summary>A call on the wire (lab requirements §3):
/// <c>{"method_name": "add", "method_args": [1, 2], "method_kwargs": {"c": 5}}</c>.
/// <c>method_args</c> are positional, <c>method_kwargs</c> by parameter name; both may be absent.</summary>
/// <remarks>The argument elements point into the <see cref="JsonDocument"/> the request was parsed from,
/// so they are valid only while that document is alive. The server disposes it after the reply; the method
/// gets values of its own (<c>MethodBinding</c> converts or copies each argument).</remarks>
public sealed record RpcRequest(string MethodName, IReadOnlyList<JsonElement> Args, IReadOnlyDictionary<string, JsonElement> Kwargs)
{
    public const string MethodNameProperty = "method_name";

    /// <summary>The reserved method name that lists the server's methods (the lab's discovery call).</summary>
    public const string DiscoveryMethodName = "all_your_methods";

    /// <summary>Reads a request from a parsed JSON value.</summary>
    /// <exception cref="BadRequestException">Not an object, no string <c>method_name</c>, or <c>method_args</c>/<c>method_kwargs</c>
    /// of the wrong JSON type. The message names the field so a student sees exactly what their client sent wrong.</exception>
    public static RpcRequest Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new BadRequestException($"a request must be a JSON object, not {ProtocolJson.Describe(root.ValueKind)}");
        if (!root.TryGetProperty(MethodNameProperty, out JsonElement name))
            throw new BadRequestException($"the request has no \"{MethodNameProperty}\"");
        if (name.ValueKind != JsonValueKind.String)
            throw new BadRequestException($"\"{MethodNameProperty}\" must be a string, not {ProtocolJson.Describe(name.ValueKind)}");

        string methodName;
        try
        {
            methodName = name.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // The bytes were checked as UTF-8, but an escape can still encode half a character ("\ud800"),
            // which .NET strings cannot hold: that is the caller's error, naming the field.
            throw new BadRequestException(ProtocolJson.UnpairedSurrogate($"\"{MethodNameProperty}\""));
        }

        if (methodName.Length == 0)
            throw new BadRequestException($"\"{MethodNameProperty}\" must not be empty");

        JsonElement[] args = Optional(root, "method_args", JsonValueKind.Array, "an array") is { } array ? [.. array.EnumerateArray()] : [];
        // A repeated or half-character key cannot get here: the parser refuses both (ProtocolJson.DocumentOptions).
        Dictionary<string, JsonElement> kwargs = Optional(root, "method_kwargs", JsonValueKind.Object, "an object") is { } named
            ? named.EnumerateObject().ToDictionary(property => property.Name, property => property.Value, StringComparer.Ordinal)
            : [];
        return new RpcRequest(methodName, args, kwargs);
    }

    /// <summary>Writes a request whose arguments are ordinary .NET values (the client's side).</summary>
    public static void Write(Utf8JsonWriter writer, string methodName, IReadOnlyList<object?>? args, IReadOnlyDictionary<string, object?>? kwargs)
    {
        writer.WriteStartObject();
        writer.WriteString(MethodNameProperty, methodName);
        writer.WriteStartArray("method_args");
        foreach (object? arg in args ?? [])
            JsonSerializer.Serialize(writer, arg, ProtocolJson.Options);
        writer.WriteEndArray();
        writer.WriteStartObject("method_kwargs");
        foreach ((string key, object? value) in kwargs ?? new Dictionary<string, object?>())
        {
            writer.WritePropertyName(key);
            JsonSerializer.Serialize(writer, value, ProtocolJson.Options);
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    // A field that may be absent or null; if present it must be of the given kind.
    private static JsonElement? Optional(JsonElement root, string property, JsonValueKind kind, string described)
    {
        if (!root.TryGetProperty(property, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
            return null;
        return value.ValueKind == kind
            ? value
            : throw new BadRequestException($"\"{property}\" must be {described}, not {ProtocolJson.Describe(value.ValueKind)}");
    }
}
