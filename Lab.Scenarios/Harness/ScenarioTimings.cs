using System.Globalization;
using Lab.Hosting;
using Lab.Protocol.Settings;
using Microsoft.Extensions.Configuration;

namespace Lab.Scenarios.Harness;

/// <summary>
/// The short timings every scenario's <c>config.ini</c> starts from, so a heartbeat, an eviction or
/// a timeout happens within seconds instead of the production defaults' tens of seconds.
/// </summary>
/// <remarks>
/// <c>--config FILE</c> on the runner overlays any of these keys (same INI sections and names as the
/// repository's <c>config.ini</c>). Scenarios read the values back (e.g. how long eviction may take)
/// so their waits follow whatever timings are in force.
/// <example>
/// <code>
/// ScenarioTimings timings = ScenarioTimings.Load("slow-machine.ini");
/// TimeSpan evictedWithin = timings.Seconds("registry:heartbeat_timeout") + timings.Seconds("registry:health_check_interval");
/// </code>
/// </example>
/// </remarks>
internal sealed class ScenarioTimings
{
    /// <summary>The built-in scenario values: fast enough for a few-minute run, slow enough for a busy 2-core machine.</summary>
    public static readonly IReadOnlyDictionary<string, string> Defaults = new Dictionary<string, string>
    {
        ["registry:host"] = "127.0.0.1",
        ["registry:health_check_interval"] = "0.5",
        ["registry:heartbeat_timeout"] = "3",
        ["registry:max_body_size"] = "65536",
        // Self-preservation off, as in the lab's config.ini; the partition scenarios turn it on.
        ["registry:self_preservation_limit"] = "0",
        ["registry:self_preservation_percent"] = "50",
        ["server:host"] = "127.0.0.1",
        ["server:heartbeat_interval"] = "0.5",
        ["server:registry_timeout"] = "2",
        // Ours applies it only once a request's first byte has arrived; another implementation may drop
        // an idle connection after it (Python's socket timeout does), and a client starved of CPU on a
        // busy machine can take seconds between its connect and its request. timeout-server-read sets its own.
        ["server:read_timeout"] = "10",
        ["server:write_timeout"] = "2",
        ["server:method_timeout"] = "10",
        ["server:drain_timeout"] = "5",
        ["server:max_message_size"] = "1048576",
        ["client:poll_interval"] = "0.5",
        ["client:registry_timeout"] = "2",
        // A loopback connect completes in the kernel at once; what it waits for is the client itself being
        // scheduled, which a busy machine can hold off for seconds. 1 s once dropped a live server before a
        // scenario's fault (timeout-client-connect sets its own 1 s: there the timeout is the subject).
        ["client:connect_timeout"] = "3",
        ["client:write_timeout"] = "2",
        ["client:call_timeout"] = "10",
        ["client:read_timeout"] = "2",
        // Round-robin makes "calls spread over both servers" certain, not merely likely.
        ["client:load_balance"] = "round_robin",
        ["client:max_message_size"] = "16777216",
        ["client:silent_after"] = "2",
        // Long enough that a live server the machine is slow to schedule answers its probe (2 s was missed
        // once, and the client banned the only server left); a frozen one is still banned well within what
        // the frozen-server scenarios check (silent_after + a watchdog tick + probe_timeout, under the 15 s
        // freeze and the 10 s call_timeout).
        ["client:probe_timeout"] = "4",
        ["client:unreachable_ban"] = "10",
        ["logging:level"] = "information",
    };

    private readonly Dictionary<string, string> _values;

    private ScenarioTimings(Dictionary<string, string> values, string source)
    {
        _values = values;
        Source = source;
    }

    /// <summary>"built-in" or the overriding file's path.</summary>
    public string Source { get; }

    /// <summary>Every <c>section:key</c> value.</summary>
    public IReadOnlyDictionary<string, string> Values => _values;

    /// <summary>The built-in timings, overlaid by <paramref name="overrideFile"/> when given.</summary>
    /// <exception cref="ConfigurationException">The file is missing or not valid INI.</exception>
    public static ScenarioTimings Load(string? overrideFile)
    {
        var values = new Dictionary<string, string>(Defaults, StringComparer.OrdinalIgnoreCase);
        if (overrideFile is null)
        {
            return new ScenarioTimings(values, "built-in");
        }

        LabConfiguration file = LabConfiguration.Load(overrideFile);
        foreach (KeyValuePair<string, string?> pair in file.Values.AsEnumerable())
        {
            if (pair.Value is not null && pair.Key.Contains(':', StringComparison.Ordinal))
            {
                values[pair.Key] = pair.Value.Trim();
            }
        }

        return new ScenarioTimings(values, Path.GetFullPath(overrideFile));
    }

    /// <summary>A duration in seconds, e.g. <c>Seconds("server:read_timeout")</c>.</summary>
    public TimeSpan Seconds(string key) =>
        _values.TryGetValue(key, out string? raw) && double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds)
            ? TimeSpan.FromSeconds(seconds)
            : throw new InvalidOperationException($"scenario timing {key} is missing or not a number of seconds");
}
