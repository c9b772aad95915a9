using System.Text.Json;
using Lab.Protocol.Messages;

namespace Lab.Client;

/// <summary>Reads the answer of the lab's discovery call, <c>all_your_methods</c> (lab requirements §3):
/// <c>[{"method_name": "add", "method_args": ["a", "b"], "method_kwargs": {"c": 10}}, ...]</c>.</summary>
public static class ServerMethods
{
    /// <summary>The method names the server listed.</summary>
    /// <exception cref="JsonException">The result is not a JSON array.</exception>
    public static IReadOnlySet<string> ReadNames(JsonElement result)
    {
        if (result.ValueKind != JsonValueKind.Array)
            throw new JsonException($"{RpcRequest.DiscoveryMethodName} must return an array, not {result.ValueKind}");

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonElement entry in result.EnumerateArray())
        {
            // The spec's shape is {"method_name": ...}; a bare list of names is accepted too.
            if (entry.ValueKind == JsonValueKind.Object
                && entry.TryGetProperty(RpcRequest.MethodNameProperty, out JsonElement name)
                && name.ValueKind == JsonValueKind.String)
            {
                names.Add(name.GetString()!);
            }
            else if (entry.ValueKind == JsonValueKind.String)
            {
                names.Add(entry.GetString()!);
            }
        }

        return names;
    }
}
