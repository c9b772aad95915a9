using System.Text.Json;
using Lab.Protocol.Discovery;
using Lab.Protocol.Settings;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lab.Registry.Dashboard;

/// <summary>
/// <c>GET /dashboard</c>, a live page for demos, and <c>GET /dashboard/state</c>, the JSON it polls
/// once a second: each instance discovery lists (exactly what <c>findAllInstances</c> answers) with its
/// address, the age of its last heartbeat, the time left before it is evicted, and the calls per second
/// and errors its server reports in its heartbeat's <c>parameters</c> (<c>calls</c>, <c>errors</c>,
/// <c>calls_per_second</c>); whether self-preservation is holding silent instances (a banner on the
/// page); and the recent events.
/// </summary>
/// <example>
/// <code>
/// app.MapDashboard(registryService, settings);   // in the registry's wiring
/// // then open http://127.0.0.1:9999/dashboard
/// </code>
/// </example>
public static class DashboardEndpoints
{
    public const string PagePath = "/dashboard";
    public const string StatePath = "/dashboard/state";

    /// <summary>How often the page asks for the state; the page reads it from the state itself.</summary>
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Maps both routes and starts recording the registry's events. Call it before the app starts, so the
    /// first registrations are recorded.
    /// </summary>
    /// <param name="app">The registry application (its services hold the <see cref="TimeProvider"/> and logging).</param>
    /// <param name="registry">The instance store the page shows.</param>
    /// <param name="settings">The registry's heartbeat timeout and self-preservation settings, shown on the page.</param>
    public static void MapDashboard(this WebApplication app, RegistryService registry, RegistrySettings settings)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(registry);
        TimeProvider clock = app.Services.GetService<TimeProvider>() ?? TimeProvider.System;
        var events = new RegistryEvents(clock);
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(events);

        string page = ReadPage();
        app.MapGet(PagePath, () => Results.Content(page, "text/html; charset=utf-8"));
        app.MapGet(StatePath, () => Results.Json(State(registry.Listed(), registry.SelfPreservation(), events, clock.GetUtcNow(), settings)));
    }

    /// <summary>What the page shows, at <paramref name="now"/>: the listed instances, as findAllInstances lists them.</summary>
    internal static DashboardState State(
        IEnumerable<ListedInstance> listed,
        SelfPreservationState preservation,
        RegistryEvents events,
        DateTimeOffset now,
        RegistrySettings settings)
    {
        InstanceRow[] rows = [.. listed
            .Select(entry => new InstanceRow(
                entry.Instance.Protocol,
                entry.Instance.Address,
                Math.Round((now - entry.LastHeartbeat).TotalSeconds, 1),
                Math.Round((entry.EvictionDue - now).TotalSeconds, 1),
                now - entry.LastHeartbeat > settings.HeartbeatTimeout,
                entry.Proven,
                Number(entry.Instance, "calls_per_second"),
                Number(entry.Instance, "calls"),
                Number(entry.Instance, "errors")))];
        return new DashboardState(
            now,
            settings.HeartbeatTimeout.TotalSeconds,
            Refresh.TotalSeconds,
            new SelfPreservationRow(settings.SelfPreservationEnabled, preservation.Since, preservation.Silent, preservation.Total, settings.SelfPreservationLimit.TotalSeconds),
            rows,
            [.. events.Recent().Select(entry => new EventRow(entry.Time, entry.Text))]);
    }

    // A server that does not report (another implementation of the lab) shows a dash, not a zero.
    private static double? Number(InstanceMeta instance, string parameter) =>
        instance.Parameters.TryGetValue(parameter, out JsonElement value) && value.ValueKind == JsonValueKind.Number
            ? value.GetDouble()
            : null;

    private static string ReadPage()
    {
        using Stream stream = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream("Lab.Registry.Dashboard.dashboard.html")
                              ?? throw new InvalidOperationException("dashboard.html is not embedded in Lab.Registry");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

internal sealed record DashboardState(
    DateTimeOffset Now, double HeartbeatTimeoutSeconds, double RefreshSeconds, SelfPreservationRow SelfPreservation, InstanceRow[] Instances, EventRow[] Events);

/// <summary>Self-preservation: switched on in the settings (<c>Enabled</c>), and holding silent instances since <c>Since</c> (null: not holding).</summary>
internal sealed record SelfPreservationRow(bool Enabled, DateTimeOffset? Since, int Silent, int Total, double LimitSeconds);

/// <summary>One listed instance. <c>Silent</c>: past the heartbeat timeout, still listed while self-preservation judges
/// or holds it. <c>Heartbeated</c>: it sent a heartbeat after registering (made-up registrations never do).</summary>
internal sealed record InstanceRow(
    string Protocol,
    string Address,
    double HeartbeatAgeSeconds,
    double EvictionInSeconds,
    bool Silent,
    bool Heartbeated,
    double? CallsPerSecond,
    double? Calls,
    double? Errors);

internal sealed record EventRow(DateTimeOffset Time, string Text);
