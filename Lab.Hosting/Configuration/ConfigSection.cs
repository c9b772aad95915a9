using System.Globalization;

namespace Lab.Hosting;

/// <summary>Typed reading of one <c>[section]</c> of the configuration, with errors that name the file,
/// section and key — so "it does not start" always comes with the line to fix.</summary>
public sealed class ConfigSection(LabConfiguration configuration, string name)
{
    /// <summary>A text value; <paramref name="defaultValue"/> when the key is absent or empty.</summary>
    public string GetString(string key, string defaultValue) =>
        Raw(key) is { Length: > 0 } value ? value : defaultValue;

    /// <summary>A whole number within [min, max].</summary>
    public int GetInt(string key, int defaultValue, int min = int.MinValue, int max = int.MaxValue)
    {
        if (Raw(key) is not { Length: > 0 } raw)
            return defaultValue;

        if (!int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
            throw Invalid(key, raw, "is not a whole number");

        return value >= min && value <= max
            ? value
            : throw Invalid(key, raw, $"must be between {min} and {max}");
    }

    /// <summary>A duration given in seconds (decimals allowed, e.g. <c>0.5</c>). It must be positive unless
    /// <paramref name="allowZero"/>, where 0 means "off".</summary>
    public TimeSpan GetSeconds(string key, double defaultSeconds, bool allowZero = false)
    {
        if (Raw(key) is not { Length: > 0 } raw)
            return TimeSpan.FromSeconds(defaultSeconds);

        if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || !double.IsFinite(seconds))
            throw Invalid(key, raw, "is not a number of seconds");

        if (seconds < 0 || (seconds == 0 && !allowZero) || seconds > TimeSpan.FromDays(1).TotalSeconds)
            throw Invalid(key, raw, allowZero ? "must be 0 (off) or a positive number of seconds up to one day" : "must be a positive number of seconds up to one day");

        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>One of a fixed set of words (compared case-insensitively; '-' and '_' are interchangeable).</summary>
    public TEnum GetEnum<TEnum>(string key, TEnum defaultValue) where TEnum : struct, Enum
    {
        if (Raw(key) is not { Length: > 0 } raw)
            return defaultValue;

        string normalized = raw.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        if (Enum.TryParse(normalized, ignoreCase: true, out TEnum value) && Enum.IsDefined(value) && !char.IsDigit(normalized[0]))
            return value;

        string allowed = string.Join(", ", Enum.GetNames<TEnum>().Select(ToSnakeCase));
        throw Invalid(key, raw, $"must be one of: {allowed}");
    }

    /// <summary>The error for a value that cannot be used, naming file, section and key.</summary>
    private ConfigurationException Invalid(string key, string? raw, string problem) =>
        new($"{configuration.SourceOf($"{name}:{key}")}: [{name}] {key} = \"{raw}\" {problem}");

    private string? Raw(string key) => configuration.Values[$"{name}:{key}"]?.Trim();

    private static string ToSnakeCase(string pascal) =>
        string.Concat(pascal.Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
