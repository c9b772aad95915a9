using Microsoft.Extensions.Logging;

namespace Lab.Server;

/// <summary>Keeps a server's <c>max_connections</c> within what the process may open, so a flood of
/// connections is refused one by one instead of crashing the server.</summary>
/// <remarks>Without it, the connection that takes the last descriptor leaves the runtime none for what it
/// opens while running (assemblies, HTTP sockets to the registry), and the process fails hard
/// ("Out of memory.", exit 134). It reads the limit from /proc and logs when it lowers the figure; safe from any thread.
/// <example><code>
/// int max = DescriptorLimit.CapConnections(settings.MaxConnections, logger);   // 5000, or 344 under ulimit -n 600
/// </code></example></remarks>
public static class DescriptorLimit
{
    /// <summary>Descriptors left free for the runtime itself.</summary>
    private const int RuntimeReserve = 256;

    /// <summary><paramref name="configured"/>, lowered (and logged) to the soft descriptor limit (RLIMIT_NOFILE,
    /// read from /proc on Linux) minus what the runtime needs; unchanged where the limit cannot be read.</summary>
    public static int CapConnections(int configured, ILogger logger)
    {
        const string limits = "/proc/self/limits";
        string? line = File.Exists(limits) ? File.ReadLines(limits).FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal)) : null;
        if (line?.Split(' ', StringSplitOptions.RemoveEmptyEntries) is not [_, _, _, var soft, ..] || !int.TryParse(soft, out int limit) || configured <= limit - RuntimeReserve)
            return configured;
        int capped = Math.Max(1, limit - RuntimeReserve);
        logger.LogWarning("max_connections lowered from {Configured} to {Max}: the process may open only {Limit} files (ulimit -n)", configured, capped, limit);
        return capped;
    }
}
