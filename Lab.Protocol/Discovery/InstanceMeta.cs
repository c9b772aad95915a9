using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lab.Protocol.Discovery;

/// <summary>
/// One server instance as the registry stores it — mirrors the lab's <c>InstanceMeta</c> (lab requirements §4):
/// <c>{"protocol": "json", "host": "192.168.1.1", "port": 8080, "status": true, "parameters": {}}</c>.
/// </summary>
/// <remarks>
/// Identity is (protocol, host, port): registering the same triple again is a heartbeat, not a new
/// instance. <c>parameters</c> is free-form metadata; a numeric <c>weight</c> there drives weighted
/// load balancing.
/// </remarks>
public sealed class InstanceMeta
{
    public const string WeightParameter = "weight";

    [JsonPropertyName("protocol")]
    public string Protocol { get; set; } = "json";

    [JsonPropertyName("host")]
    public string Host { get; set; } = "";

    [JsonPropertyName("port")]
    public int Port { get; set; }

    [JsonPropertyName("status")]
    public bool Status { get; set; } = true;

    [JsonPropertyName("parameters")]
    public Dictionary<string, JsonElement> Parameters { get; set; } = [];

    /// <summary>The identity the registry stores this instance under.</summary>
    [JsonIgnore]
    public InstanceKey Key => new(Protocol, Host, Port);

    /// <summary><c>host:port</c>, with brackets around an IPv6 host (<c>[::1]:8089</c>).</summary>
    [JsonIgnore]
    public string Address => FormatAddress(Host, Port);

    /// <summary>The load-balancing weight from <c>parameters.weight</c>; 1 when absent or not a positive number.</summary>
    [JsonIgnore]
    public double Weight =>
        Parameters.TryGetValue(WeightParameter, out JsonElement weight)
        && weight.ValueKind == JsonValueKind.Number
        && weight.GetDouble() is > 0 and var value && double.IsFinite(value)
            ? value
            : 1.0;

    /// <summary>A copy with another host (the registry's wildcard-host substitution) and status.</summary>
    public InstanceMeta With(string? host = null, bool? status = null) => new()
    {
        Protocol = Protocol,
        Host = host ?? Host,
        Port = Port,
        Status = status ?? Status,
        Parameters = Parameters,
    };

    /// <summary>
    /// Reads and validates an instance from JSON, as the registry receives it.
    /// </summary>
    /// <exception cref="FormatException">
    /// The value is not an object, or <c>protocol</c>/<c>host</c>/<c>port</c>/<c>status</c>/<c>parameters</c>
    /// is missing or invalid. The message names the field.
    /// </exception>
    public static InstanceMeta Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("the body must be a JSON object");
        }

        var meta = new InstanceMeta
        {
            Protocol = RequiredString(root, "protocol"),
            Host = RequiredString(root, "host", allowEmpty: true),
        };

        if (!root.TryGetProperty("port", out JsonElement port))
        {
            throw new FormatException("missing \"port\"");
        }

        if (port.ValueKind != JsonValueKind.Number || !port.TryGetInt32(out int portNumber))
        {
            throw new FormatException("\"port\" must be a whole number");
        }

        if (portNumber is < 1 or > 65535)
        {
            throw new FormatException($"\"port\" must be between 1 and 65535, not {portNumber.ToString(CultureInfo.InvariantCulture)}");
        }

        meta.Port = portNumber;

        if (root.TryGetProperty("status", out JsonElement status) && status.ValueKind != JsonValueKind.Null)
        {
            meta.Status = status.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new FormatException("\"status\" must be true or false"),
            };
        }

        if (root.TryGetProperty("parameters", out JsonElement parameters) && parameters.ValueKind != JsonValueKind.Null)
        {
            if (parameters.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("\"parameters\" must be an object");
            }

            foreach (JsonProperty property in parameters.EnumerateObject())
            {
                // Clone: the stored instance outlives the request's JSON document.
                meta.Parameters[property.Name] = property.Value.Clone();
            }
        }

        // One spelling per host (HostName): one server is one entry however it writes its address.
        meta.Host = meta.Host.Length > 0 ? HostName.Normalize(meta.Host) : meta.Host;
        return meta;
    }

    /// <summary>True for the addresses that mean "every interface" and so cannot be dialled.</summary>
    public static bool IsWildcardHost(string? host) =>
        string.IsNullOrWhiteSpace(host)
        || (IPAddress.TryParse(host, out IPAddress? address)
            && (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)));

    /// <summary><c>host:port</c>, bracketing IPv6 literals so the port stays unambiguous.</summary>
    public static string FormatAddress(string host, int port) =>
        host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[')
            ? $"[{host}]:{port.ToString(CultureInfo.InvariantCulture)}"
            : $"{host}:{port.ToString(CultureInfo.InvariantCulture)}";

    public override string ToString() => $"{Protocol}://{Address}";

    private static string RequiredString(JsonElement root, string name, bool allowEmpty = false)
    {
        if (!root.TryGetProperty(name, out JsonElement value))
        {
            throw new FormatException($"missing \"{name}\"");
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw new FormatException($"\"{name}\" must be a string");
        }

        string text = value.GetString()!.Trim();
        return allowEmpty || text.Length > 0 ? text : throw new FormatException($"\"{name}\" must not be empty");
    }
}

/// <summary>The identity of an instance: (protocol, host, port). Host names compare case-insensitively.</summary>
public readonly record struct InstanceKey(string Protocol, string Host, int Port)
{
    public bool Equals(InstanceKey other) =>
        Port == other.Port
        && string.Equals(Protocol, other.Protocol, StringComparison.OrdinalIgnoreCase)
        && string.Equals(Host, other.Host, StringComparison.OrdinalIgnoreCase);

    public override int GetHashCode() => HashCode.Combine(
        StringComparer.OrdinalIgnoreCase.GetHashCode(Protocol),
        StringComparer.OrdinalIgnoreCase.GetHashCode(Host),
        Port);
}
