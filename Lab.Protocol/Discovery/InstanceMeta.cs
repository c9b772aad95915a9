using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;

namespace Lab.Protocol.Discovery;

/// <summary>One server instance as the registry stores it — mirrors the lab's <c>InstanceMeta</c> (lab requirements §4):
/// <c>{"protocol": "json", "host": "192.168.1.1", "port": 8080, "status": true, "parameters": {}}</c>.</summary>
/// <remarks>Identity is (protocol, host, port): registering the same triple again is a heartbeat, not a new
/// instance. <c>parameters</c> is free-form metadata; a numeric <c>weight</c> there drives weighted
/// load balancing.</remarks>
public sealed class InstanceMeta
{
    /// <summary>The one protocol RpcLab servers speak and clients look for.</summary>
    public const string JsonProtocol = "json";

    [JsonPropertyName("protocol")]
    public string Protocol { get; set; } = JsonProtocol;

    [JsonPropertyName("host")]
    public string Host { get; set; } = "";

    [JsonPropertyName("port")]
    public int Port { get; set; }

    [JsonPropertyName("status")]
    public bool Status { get; set; } = true;

    [JsonPropertyName("parameters")]
    public Dictionary<string, JsonElement> Parameters { get; set; } = [];

    /// <summary>The identity the registry stores this instance under; protocol and host compare case-insensitively.</summary>
    [JsonIgnore]
    public InstanceKey Key => new(Protocol.ToLowerInvariant(), Host.ToLowerInvariant(), Port);

    /// <summary><c>host:port</c>, with brackets around an IPv6 host (<c>[::1]:8089</c>).</summary>
    [JsonIgnore]
    public string Address => HostAddress.Format(Host, Port);

    /// <summary>The load-balancing weight from <c>parameters.weight</c>; 1 when absent or not a positive number.</summary>
    [JsonIgnore]
    public double Weight =>
        Parameters.TryGetValue("weight", out JsonElement weight) && weight.ValueKind == JsonValueKind.Number
        && weight.GetDouble() is > 0 and var value && double.IsFinite(value) ? value : 1.0;

    /// <summary>A copy with another host (the registry's wildcard-host substitution) and status.</summary>
    public InstanceMeta With(string? host = null, bool? status = null) =>
        new() { Protocol = Protocol, Host = host ?? Host, Port = Port, Status = status ?? Status, Parameters = Parameters };

    /// <summary>The longest <c>protocol</c> accepted.</summary>
    public const int MaxProtocolLength = 32;

    /// <summary>Reads and validates an instance from JSON, as the registry receives it and as clients read the
    /// registry's (or etcd's) list, one entry at a time.</summary>
    /// <exception cref="FormatException">Not an object, or a field is missing or invalid; the message names the field.</exception>
    public static InstanceMeta Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new FormatException("the body must be a JSON object");
        // The parser lets bytes that are not UTF-8 through inside strings; reading one would fail later, far
        // from here, so such an entry is refused now, as one bad entry.
        if (!Utf8.IsValid(JsonMarshal.GetRawUtf8Value(root)))
            throw new FormatException("the instance is not valid UTF-8 text");

        try
        {
            return ParseFields(root);
        }
        catch (InvalidOperationException ex)
        {
            // A string or key escaping half a character ("\ud800"), which .NET strings cannot hold.
            throw new FormatException(ProtocolJson.UnpairedSurrogate("a string in the instance"), ex);
        }
    }

    /// <summary>Reads one entry of a registry's (or etcd's) list from its JSON text, as strictly as the registry reads a
    /// body (each key once), so that every way the entry can be unreadable is a <see cref="FormatException"/>
    /// and the caller skips this entry alone.</summary>
    /// <exception cref="FormatException">Not JSON, not an instance, or text that is not valid UTF-8 or Unicode.</exception>
    public static InstanceMeta Parse(ReadOnlyMemory<byte> json)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(json, ProtocolJson.DocumentOptions);
            return Parse(document.RootElement);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"not valid JSON: {ProtocolJson.Explain(ex)}", ex);
        }
        catch (InvalidOperationException ex)
        {
            // The duplicate-key check could not read a key escaping half a character ("\ud800").
            throw new FormatException(ProtocolJson.UnpairedSurrogate("a key in the instance"), ex);
        }
    }

    public override string ToString() => $"{Protocol}://{Address}";

    private static InstanceMeta ParseFields(JsonElement root)
    {
        var meta = new InstanceMeta { Protocol = RequiredString(root, "protocol"), Host = RequiredString(root, "host", allowEmpty: true) };
        // Plain text only: the protocol is printed in logs and on the dashboard, and it is a name, not prose.
        if (meta.Protocol.Length > MaxProtocolLength || !meta.Protocol.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '+'))
            throw new FormatException($"\"protocol\" must be 1 to {MaxProtocolLength} letters, digits, '.', '_', '-' or '+' (such as json), not {PeerText.Printable(meta.Protocol, 64)}");
        if (!root.TryGetProperty("port", out JsonElement port))
            throw new FormatException("missing \"port\"");
        if (port.ValueKind != JsonValueKind.Number || !port.TryGetInt32(out int portNumber))
            throw new FormatException("\"port\" must be a whole number");
        meta.Port = portNumber is >= 1 and <= 65535 ? portNumber : throw new FormatException($"\"port\" must be between 1 and 65535, not {portNumber}");

        if (root.TryGetProperty("status", out JsonElement status) && status.ValueKind != JsonValueKind.Null)
            meta.Status = status.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? status.GetBoolean()
                : throw new FormatException("\"status\" must be true or false");

        if (root.TryGetProperty("parameters", out JsonElement parameters) && parameters.ValueKind != JsonValueKind.Null)
        {
            if (parameters.ValueKind != JsonValueKind.Object)
                throw new FormatException("\"parameters\" must be an object");
            // Clone: the stored instance outlives the request's JSON document.
            foreach (JsonProperty property in parameters.EnumerateObject())
                meta.Parameters[property.Name] = property.Value.Clone();
        }

        // One spelling per host (HostAddress.Normalize): one server is one entry however it writes its address.
        meta.Host = meta.Host.Length > 0 ? HostAddress.Normalize(meta.Host) : meta.Host;
        return meta;
    }

    private static string RequiredString(JsonElement root, string name, bool allowEmpty = false)
    {
        if (!root.TryGetProperty(name, out JsonElement value))
            throw new FormatException($"missing \"{name}\"");
        if (value.ValueKind != JsonValueKind.String)
            throw new FormatException($"\"{name}\" must be a string");
        string text = value.GetString()!.Trim();
        return allowEmpty || text.Length > 0 ? text : throw new FormatException($"\"{name}\" must not be empty");
    }
}

/// <summary>The identity of an instance: (protocol, host, port), lower-cased by <see cref="InstanceMeta.Key"/>.</summary>
public readonly record struct InstanceKey(string Protocol, string Host, int Port);
