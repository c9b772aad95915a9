using System.Text.Json;

namespace Lab.Protocol.Messages;

/// <summary>
/// A call on the wire (lab requirements §3):
/// <c>{"method_name": "add", "method_args": [1, 2], "method_kwargs": {"c": 5}}</c>.
/// <c>method_args</c> are positional, <c>method_kwargs</c> by parameter name; both may be absent.
/// </summary>
/// <remarks>
/// The argument elements point into the <see cref="JsonDocument"/> the request was parsed from,
/// so they are valid only while that document is alive (the server disposes it after the reply).
/// </remarks>
public sealed record RpcRequest(
    string MethodName,
    IReadOnlyList<JsonElement> Args,
    IReadOnlyDictionary<string, JsonElement> Kwargs)
{
    public const string MethodNameProperty = "method_name";
    public const string ArgsProperty = "method_args";
    public const string KwargsProperty = "method_kwargs";

    /// <summary>The reserved method name that lists the server's methods (the lab's discovery call).</summary>
    public const string DiscoveryMethodName = "all_your_methods";

    private static readonly IReadOnlyDictionary<string, JsonElement> NoKwargs = new Dictionary<string, JsonElement>();

    /// <summary>
    /// Reads a request from a parsed JSON value.
    /// </summary>
    /// <exception cref="BadRequestException">
    /// Not an object, no string <c>method_name</c>, or <c>method_args</c>/<c>method_kwargs</c> of the wrong JSON type.
    /// The message names the field so a student sees exactly what their client sent wrong.
    /// </exception>
    public static RpcRequest Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new BadRequestException($"a request must be a JSON object, not {Describe(root.ValueKind)}");
        }

        if (!root.TryGetProperty(MethodNameProperty, out JsonElement name))
        {
            throw new BadRequestException($"the request has no \"{MethodNameProperty}\"");
        }

        if (name.ValueKind != JsonValueKind.String)
        {
            throw new BadRequestException($"\"{MethodNameProperty}\" must be a string, not {Describe(name.ValueKind)}");
        }

        string methodName = ReadText(name, $"\"{MethodNameProperty}\"");
        if (methodName.Length == 0)
        {
            throw new BadRequestException($"\"{MethodNameProperty}\" must not be empty");
        }

        IReadOnlyList<JsonElement> args = [];
        if (root.TryGetProperty(ArgsProperty, out JsonElement argsElement) && argsElement.ValueKind != JsonValueKind.Null)
        {
            if (argsElement.ValueKind != JsonValueKind.Array)
            {
                throw new BadRequestException($"\"{ArgsProperty}\" must be an array, not {Describe(argsElement.ValueKind)}");
            }

            var list = new JsonElement[argsElement.GetArrayLength()];
            int index = 0;
            foreach (JsonElement item in argsElement.EnumerateArray())
            {
                list[index++] = item;
            }

            args = list;
        }

        IReadOnlyDictionary<string, JsonElement> kwargs = NoKwargs;
        if (root.TryGetProperty(KwargsProperty, out JsonElement kwargsElement) && kwargsElement.ValueKind != JsonValueKind.Null)
        {
            if (kwargsElement.ValueKind != JsonValueKind.Object)
            {
                throw new BadRequestException($"\"{KwargsProperty}\" must be an object, not {Describe(kwargsElement.ValueKind)}");
            }

            var dictionary = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (JsonProperty property in kwargsElement.EnumerateObject())
            {
                // A repeated key is ambiguous (which value did the caller mean?): refuse it. The server's
                // parser already does (ProtocolJson.DocumentOptions); this covers any other JsonElement.
                string key = ReadText(property, $"a key of \"{KwargsProperty}\"");
                if (!dictionary.TryAdd(key, property.Value))
                {
                    throw new BadRequestException($"duplicate key \"{key}\" in \"{KwargsProperty}\": each key may appear once");
                }
            }

            kwargs = dictionary;
        }

        return new RpcRequest(methodName, args, kwargs);
    }

    /// <summary>
    /// Writes a request whose arguments are ordinary .NET values (the client's side).
    /// Each value is serialized with <see cref="ProtocolJson.Options"/>.
    /// </summary>
    public static void Write(
        Utf8JsonWriter writer,
        string methodName,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs)
    {
        writer.WriteStartObject();
        writer.WriteString(MethodNameProperty, methodName);
        writer.WriteStartArray(ArgsProperty);
        if (args is not null)
        {
            foreach (object? arg in args)
            {
                JsonSerializer.Serialize(writer, arg, ProtocolJson.Options);
            }
        }

        writer.WriteEndArray();
        writer.WriteStartObject(KwargsProperty);
        if (kwargs is not null)
        {
            foreach ((string key, object? value) in kwargs)
            {
                writer.WritePropertyName(key);
                JsonSerializer.Serialize(writer, value, ProtocolJson.Options);
            }
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>
    /// A string's text. The bytes were checked as UTF-8, but an escape can still encode half a character
    /// (<c>"\ud800"</c>), which .NET strings cannot hold: that is the caller's error, naming the field.
    /// </summary>
    /// <exception cref="BadRequestException">The text is not valid Unicode.</exception>
    public static string ReadText(JsonElement value, string field)
    {
        try
        {
            return value.GetString() ?? "";
        }
        catch (InvalidOperationException)
        {
            throw new BadRequestException(ProtocolJson.UnpairedSurrogate(field));
        }
    }

    private static string ReadText(JsonProperty property, string field)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException)
        {
            throw new BadRequestException(ProtocolJson.UnpairedSurrogate(field));
        }
    }

    internal static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
