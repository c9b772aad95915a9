using Microsoft.Extensions.Configuration;

namespace Lab.Hosting;

/// <summary>Loads <c>config.ini</c> (lab requirements §8) with Microsoft.Extensions.Configuration.Ini, then lays
/// <c>RPCLAB_</c> environment variables over it (<c>RPCLAB_REGISTRY__HOST</c> = <c>[registry] host</c>:
/// how containers are configured), then the command-line flags, so a flag always wins.</summary>
/// <remarks>The original lab hard-coded one file name for one machine. Here the file is found like this:
/// an explicit <c>--config PATH</c> (must exist); otherwise the first <c>config.ini</c> in the current
/// directory or one of its parents (so <c>dotnet run --project Lab.Server</c> from anywhere in the
/// repository finds the root file); otherwise built-in defaults, which are the values documented in
/// the repository's <c>config.ini</c>.</remarks>
public sealed class LabConfiguration
{
    private const string DefaultFileName = "config.ini";

    // Environment variables with this prefix set values: RPCLAB_SECTION__KEY.
    private const string EnvironmentPrefix = "RPCLAB_";

    // Keys set from the command line: an error in one of them must point at the flag, not the file.
    private readonly HashSet<string> _overriddenKeys;

    // How messages name a value that no flag or variable set: the file's name, or "built-in defaults".
    private readonly string _fileName;

    private LabConfiguration(string? filePath, IConfiguration values, IEnumerable<string> overriddenKeys)
    {
        Values = values;
        _overriddenKeys = new HashSet<string>(overriddenKeys, StringComparer.OrdinalIgnoreCase);
        _fileName = filePath is null ? "built-in defaults" : Path.GetFileName(filePath);
    }

    /// <summary>The merged values, keyed <c>section:key</c>.</summary>
    public IConfiguration Values { get; }

    /// <summary>Reads the configuration.</summary>
    /// <param name="explicitPath">The <c>--config</c> value, or null to search for <c>config.ini</c>.</param>
    /// <param name="overrides">Values from command-line flags, keyed <c>section:key</c>; null values are ignored.</param>
    /// <exception cref="ConfigurationException">The explicit file does not exist, or the file is not valid INI.</exception>
    public static LabConfiguration Load(string? explicitPath, IEnumerable<KeyValuePair<string, string?>>? overrides = null)
    {
        string? path = explicitPath is null ? FindDefaultFile() : Path.GetFullPath(explicitPath);
        if (explicitPath is not null && !File.Exists(path))
            throw new ConfigurationException($"configuration file not found: {path}");

        var builder = new ConfigurationBuilder();
        if (path is not null)
            builder.AddIniFile(path, optional: false, reloadOnChange: false);

        builder.AddEnvironmentVariables(EnvironmentPrefix);
        List<KeyValuePair<string, string?>> flags = overrides?.Where(pair => pair.Value is not null).ToList() ?? [];
        builder.AddInMemoryCollection(flags);
        try
        {
            return new LabConfiguration(path, builder.Build(), flags.Select(pair => pair.Key));
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException or IOException)
        {
            // The INI provider wraps the useful part ("Unrecognized line format: 'x'", "A duplicate key
            // 'server:port' was found") in a generic "Failed to load configuration from file"; show the cause.
            string detail = ex is InvalidDataException { InnerException: { } cause } ? cause.Message : ex.Message;
            throw new ConfigurationException($"{path}: {detail}", ex);
        }
    }

    /// <summary>Where a value came from, for error messages: "command line", the environment variable, or the file's name.</summary>
    public string SourceOf(string sectionAndKey)
    {
        string variable = EnvironmentPrefix + sectionAndKey.Replace(":", "__", StringComparison.Ordinal);
        return _overriddenKeys.Contains(sectionAndKey) ? "command line"
            : Environment.GetEnvironmentVariables().Keys.OfType<string>().FirstOrDefault(name => name.Equals(variable, StringComparison.OrdinalIgnoreCase)) is { } name
                ? $"environment variable {name}"
                : _fileName;
    }

    /// <summary>A typed view of one <c>[section]</c>.</summary>
    public ConfigSection Section(string name) => new(this, name);

    private static string? FindDefaultFile()
    {
        for (DirectoryInfo? directory = new(Directory.GetCurrentDirectory()); directory is not null; directory = directory.Parent)
        {
            string candidate = Path.Combine(directory.FullName, DefaultFileName);
            if (File.Exists(candidate))
                return candidate;
        }

        return null;
    }
}
