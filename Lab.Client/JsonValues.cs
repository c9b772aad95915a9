using System.Text.Json;

namespace Lab.Client;

/// <summary>Turns a JSON value into the plain .NET value a Python caller of the lab would get: numbers become
/// <see cref="long"/> (whole) or <see cref="double"/>, then <see cref="string"/>, <see cref="bool"/>,
/// <c>null</c>, <see cref="List{T}"/> and <see cref="Dictionary{TKey,TValue}"/>. The dynamic proxy
/// returns these, so <c>lab.add(1, 2)</c> gives a <c>long</c> and not a <see cref="JsonElement"/>.</summary>
public static class JsonValues
{
    public static object? ToNatural(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Number => element.TryGetInt64(out long whole) ? whole : element.GetDouble(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => element.EnumerateArray().Select(ToNatural).ToList(),
        JsonValueKind.Object => element.EnumerateObject().ToDictionary(property => property.Name, property => ToNatural(property.Value), StringComparer.Ordinal),
        _ => null,
    };
}
