using System.Text.Json;
using Lab.Protocol.Discovery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lab.Registry.Dashboard;

/// <summary>
/// <c>GET /dashboard</c>, a live page for demos, and <c>GET /dashboard/state</c>, the JSON it polls
/// once a second: each instance with its address, the age of its last heartbeat, the time left before
/// it is evicted, and the calls per second and errors its server reports in its heartbeat's
/// <c>parameters</c> (<c>calls</c>, <c>errors</c>, <c>calls_per_second</c>); and the recent events.
/// </summary>
/// <example>
/// <code>
/// app.MapDashboard(registryService.Snapshot, settings.HeartbeatTimeout);   // in the registry's wiring
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
    /// <param name="instances">Every stored instance with the time of its last heartbeat.</param>
    /// <param name="heartbeatTimeout">How long without a heartbeat before an instance is no longer listed.</param>
    public static void MapDashboard(
        this WebApplication app,
        Func<IEnumerable<(InstanceMeta Instance, DateTimeOffset LastHeartbeat)>> instances,
        TimeSpan heartbeatTimeout)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(instances);
        TimeProvider clock = app.Services.GetService<TimeProvider>() ?? TimeProvider.System;
        var events = new RegistryEvents(clock);
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(events);

        string page = ReadPage();
        app.MapGet(PagePath, () => Results.Content(page, "text/html; charset=utf-8"));
        app.MapGet(StatePath, () => Results.Json(State(instances(), events, clock.GetUtcNow(), heartbeatTimeout)));
    }

    /// <summary>What the page shows, at <paramref name="now"/>. Instances past the timeout are left out, as findAllInstances does.</summary>
    internal static DashboardState State(
        IEnumerable<(InstanceMeta Instance, DateTimeOffset LastHeartbeat)> instances,
        RegistryEvents events,
        DateTimeOffset now,
        TimeSpan heartbeatTimeout)
    {
        InstanceRow[] rows = [.. instances
            .Where(entry => now - entry.LastHeartbeat <= heartbeatTimeout)
            .OrderBy(entry => entry.Instance.Protocol, StringComparer.Ordinal)
            .ThenBy(entry => entry.Instance.Address, StringComparer.Ordinal)
            .Select(entry => new InstanceRow(
                entry.Instance.Protocol,
                entry.Instance.Address,
                Math.Round((now - entry.LastHeartbeat).TotalSeconds, 1),
                Math.Round((heartbeatTimeout - (now - entry.LastHeartbeat)).TotalSeconds, 1),
                Number(entry.Instance, "calls_per_second"),
                Number(entry.Instance, "calls"),
                Number(entry.Instance, "errors")))];
        return new DashboardState(
            now,
            heartbeatTimeout.TotalSeconds,
            Refresh.TotalSeconds,
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

internal sealed record DashboardState(DateTimeOffset Now, double HeartbeatTimeoutSeconds, double RefreshSeconds, InstanceRow[] Instances, EventRow[] Events);

internal sealed record InstanceRow(
    string Protocol,
    string Address,
    double HeartbeatAgeSeconds,
    double EvictionInSeconds,
    double? CallsPerSecond,
    double? Calls,
    double? Errors);

internal sealed record EventRow(DateTimeOffset Time, string Text);
