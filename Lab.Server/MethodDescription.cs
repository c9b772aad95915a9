using System.Text.Json.Serialization;

namespace Lab.Server;

/// <summary>One entry of the <c>all_your_methods</c> reply (lab requirements §3):
/// <c>{"method_name": "add", "method_args": ["a", "b"], "method_kwargs": {"c": 10}}</c> —
/// the required parameter names, then the optional ones with their defaults.</summary>
public sealed record MethodDescription(
    [property: JsonPropertyName("method_name")] string MethodName,
    [property: JsonPropertyName("method_args")] IReadOnlyList<string> MethodArgs,
    [property: JsonPropertyName("method_kwargs")] IReadOnlyDictionary<string, object?> MethodKwargs);
