using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lab.Registry.Dashboard;
using Lab.Tests.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Registry.Dashboard;

/// <summary>
/// What <c>/dashboard/state</c> says, on the registry's fake clock: heartbeat age and time to eviction
/// move with the clock, a server's reported counters are shown, a silent instance is dropped, and the
/// registry's own log lines become the events. And the page loads nothing from elsewhere.
/// </summary>
public class DashboardEndpointsTests
{
    [Test]
    public async Task State_shows_heartbeat_age_time_to_eviction_and_the_counters_the_server_reported()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        (await registry.PostJsonAsync("/myRegistry/register", """
            {"protocol": "json", "host": "127.0.0.1", "port": 18090, "parameters": {"calls": 120, "errors": 3, "calls_per_second": 12.5}}
            """)).EnsureSuccessStatusCode();

        registry.Clock.Advance(TimeSpan.FromSeconds(1.5));
        JsonElement state = await StateAsync(registry);

        JsonElement instance = state.GetProperty("instances").EnumerateArray().Single();
        instance.GetProperty("address").GetString().ShouldBe("127.0.0.1:18090");
        instance.GetProperty("heartbeatAgeSeconds").GetDouble().ShouldBe(1.5);
        instance.GetProperty("evictionInSeconds").GetDouble().ShouldBe(RunningRegistry.TestSettings.HeartbeatTimeout.TotalSeconds - 1.5);
        instance.GetProperty("calls").GetDouble().ShouldBe(120);
        instance.GetProperty("errors").GetDouble().ShouldBe(3);
        instance.GetProperty("callsPerSecond").GetDouble().ShouldBe(12.5);
        state.GetProperty("events").EnumerateArray().Select(entry => entry.GetProperty("text").GetString())
            .ShouldContain("Registered json://127.0.0.1:18090");
    }

    [Test]
    public async Task Instance_past_the_heartbeat_timeout_is_no_longer_shown_and_one_without_counters_shows_none()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        await registry.RegisterAsync(port: 18091);
        JsonElement fresh = (await StateAsync(registry)).GetProperty("instances").EnumerateArray().Single();
        fresh.GetProperty("calls").ValueKind.ShouldBe(JsonValueKind.Null);

        registry.Clock.Advance(RunningRegistry.TestSettings.HeartbeatTimeout + TimeSpan.FromSeconds(0.1));

        (await StateAsync(registry)).GetProperty("instances").GetArrayLength().ShouldBe(0);
    }

    [Test]
    public async Task State_lists_exactly_what_findAllInstances_lists_also_while_self_preservation_keeps_silent_servers()
    {
        // The dashboard used to filter by heartbeat age on its own and showed 1 instance where discovery listed 3.
        await using RunningRegistry registry = await RunningRegistry.StartAsync(RunningRegistry.TestSettings with { SelfPreservationLimit = TimeSpan.FromSeconds(10) });
        foreach (int port in new[] { 18090, 18091, 18092 })
        {
            await registry.RegisterAsync(port);
        }

        registry.Clock.Advance(TimeSpan.FromSeconds(1));
        foreach (int port in new[] { 18090, 18091, 18092 })
        {
            await registry.RegisterAsync(port);
        }

        registry.Clock.Advance(RunningRegistry.TestSettings.HeartbeatTimeout + TimeSpan.FromSeconds(0.5));
        await registry.RegisterAsync(18090);

        JsonElement state = await StateAsync(registry);
        string?[] shown = [.. state.GetProperty("instances").EnumerateArray().Select(row => row.GetProperty("address").GetString())];
        shown.ShouldBe((await registry.FindAsync()).Select(instance => instance.Address));
        shown.Length.ShouldBe(3, "silent past the timeout, but self-preservation is judging them: listed");
        state.GetProperty("instances").EnumerateArray().Count(row => row.GetProperty("silent").GetBoolean()).ShouldBe(2);
        state.GetProperty("selfPreservation").GetProperty("enabled").GetBoolean().ShouldBeTrue();
    }

    [Test]
    public async Task Events_show_control_characters_from_peers_escaped()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        // The events are the registry's log lines; one that quotes a peer's text must not carry its escape
        // sequences to the page (or to whoever reads the JSON in a terminal).
        ILogger logger = registry.App.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Lab.Registry.Test");
        logger.LogInformation("peer said {Text}", "\u001b[2Jgone\u009b31m");

        JsonElement state = await StateAsync(registry);

        string text = state.GetProperty("events").EnumerateArray().Select(entry => entry.GetProperty("text").GetString()!).First(line => line.StartsWith("peer said", StringComparison.Ordinal));
        text.ShouldBe("peer said \\u001b[2Jgone\\u009b31m");
    }

    [Test]
    public async Task Page_is_self_contained_html()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        using HttpResponseMessage response = await registry.Http.GetAsync(new Uri(DashboardEndpoints.PagePath.TrimStart('/'), UriKind.Relative));
        string html = await response.Content.ReadAsStringAsync();

        response.EnsureSuccessStatusCode();
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/html");
        html.ShouldContain("<table");
        // No script, stylesheet, font or image from another address: a classroom may be offline.
        Regex.Matches(html, @"(?:src|href)\s*=|@import|url\(|https?://").Select(match => match.Value).ShouldBeEmpty();
    }

    private static async Task<JsonElement> StateAsync(RunningRegistry registry) =>
        await registry.Http.GetFromJsonAsync<JsonElement>(new Uri(DashboardEndpoints.StatePath.TrimStart('/'), UriKind.Relative));
}
