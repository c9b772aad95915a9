using System.Diagnostics;
using Lab.Registry.Dashboard;
using Lab.Scenarios.Harness;
using Microsoft.Playwright;

namespace Lab.Tests.Registry.Dashboard;

/// <summary>
/// The registry's live page in a real headless browser, with a real registry and real servers as
/// separate processes: a started server appears, one killed with kill -9 disappears within
/// heartbeat_timeout plus one refresh, and the page fetches nothing from outside the registry.
/// </summary>
[Slow]
public class DashboardPageTests
{
    // Short timings so the eviction happens within a test's patience.
    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(0.5);
    private static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(3);

    [Test]
    public async Task Started_server_appears_and_one_killed_with_kill_9_disappears_within_heartbeat_timeout_plus_one_refresh()
    {
        await using DashboardBrowser? browser = await DashboardBrowser.TryLaunchAsync();
        if (browser is null)
        {
            Assert.Ignore(DashboardBrowser.MissingReason);
        }

        using var configFiles = new TestConfigFiles();
        using LabProcess registry = LabProcess.Start("Lab.Registry", ["-l", "127.0.0.1", "-p", "0", "--config", configFiles.Write("dashboard-registry", Ini(registryPort: 0))]);
        string registryUrl = (await registry.WaitForOutputAsync(@"Registry listening on (http://127\.0\.0\.1:\d+)$")).Groups[1].Value;
        int registryPort = new Uri(registryUrl).Port;

        (IPage page, int status) = await browser.OpenAsync(new Uri(new Uri(registryUrl), DashboardEndpoints.PagePath));
        status.ShouldBe(200);
        var outsideRequests = new List<string>();
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(registryUrl + "/", StringComparison.Ordinal))
            {
                lock (outsideRequests)
                {
                    outsideRequests.Add(request.Url);
                }
            }
        };
        await Assertions.Expect(page.Locator("#status")).ToContainTextAsync("0 instance(s)", new() { Timeout = Milliseconds(TestTimeouts.Unexpected) });

        using LabProcess server = LabProcess.Start("Lab.Server", ["-l", "127.0.0.1", "-p", "0", "--config", configFiles.Write("dashboard-server", Ini(registryPort))]);
        string address = (await server.WaitForOutputAsync(@"Server listening on (127\.0\.0\.1:\d+)$")).Groups[1].Value;
        ILocator row = page.Locator($"#instances tr[data-address='{address}']");
        await Assertions.Expect(row).ToBeVisibleAsync(new() { Timeout = Milliseconds(TestTimeouts.Unexpected) });
        await Assertions.Expect(row).ToContainTextAsync("json");
        await Assertions.Expect(page.Locator("#events")).ToContainTextAsync($"Registered json://{address}");

        server.Kill();
        var sinceKill = Stopwatch.StartNew();
        await Assertions.Expect(row).ToHaveCountAsync(0, new() { Timeout = Milliseconds(TestTimeouts.Unexpected) });
        TimeSpan gone = sinceKill.Elapsed;

        // The bound the page promises, plus slack for a loaded machine (the browser's own poll of the DOM).
        gone.ShouldBeLessThan(HeartbeatTimeout + DashboardEndpoints.Refresh + TestTimeouts.Prompt);
        await Assertions.Expect(page.Locator("#events")).ToContainTextAsync($"Evicted json://{address}", new() { Timeout = Milliseconds(TestTimeouts.Unexpected) });
        lock (outsideRequests)
        {
            outsideRequests.ShouldBeEmpty();
        }
    }

    [Test]
    public async Task Servers_held_by_self_preservation_stay_listed_under_a_banner_that_says_so()
    {
        await using DashboardBrowser? browser = await DashboardBrowser.TryLaunchAsync();
        if (browser is null)
        {
            Assert.Ignore(DashboardBrowser.MissingReason);
        }

        using var configFiles = new TestConfigFiles();
        using LabProcess registry = LabProcess.Start("Lab.Registry", ["-l", "127.0.0.1", "-p", "0", "--config", configFiles.Write("held-registry", Ini(registryPort: 0, selfPreservationLimit: 60))]);
        string registryUrl = (await registry.WaitForOutputAsync(@"Registry listening on (http://127\.0\.0\.1:\d+)$")).Groups[1].Value;
        // Debug logging: the servers' heartbeats show, and only servers that heartbeated count for self-preservation.
        string serverConfig = configFiles.Write("held-server", Ini(new Uri(registryUrl).Port) + "\n[logging]\nlevel = debug\n");
        using LabProcess first = LabProcess.Start("Lab.Server", ["-l", "127.0.0.1", "-p", "0", "--config", serverConfig]);
        using LabProcess second = LabProcess.Start("Lab.Server", ["-l", "127.0.0.1", "-p", "0", "--config", serverConfig]);
        await first.WaitForOutputAsync("Heartbeat sent");
        await second.WaitForOutputAsync("Heartbeat sent");
        (IPage page, int status) = await browser.OpenAsync(new Uri(new Uri(registryUrl), DashboardEndpoints.PagePath));
        status.ShouldBe(200);
        await Assertions.Expect(page.Locator("#status")).ToContainTextAsync("2 instance(s)", new() { Timeout = Milliseconds(TestTimeouts.Unexpected) });
        await Assertions.Expect(page.Locator("#preservation")).ToContainTextAsync("holds nobody now");

        // Both at once, as a cut cable would look: the registry cannot tell, so it holds them and says so.
        // (One after the other, a heartbeat interval apart, would be two ordinary deaths.)
        await Task.WhenAll(Task.Run(first.Kill), Task.Run(second.Kill));

        await Assertions.Expect(page.Locator("#preservation")).ToContainTextAsync("Self-preservation ON since", new() { Timeout = Milliseconds(TestTimeouts.Unexpected) });
        await Assertions.Expect(page.Locator("#preservation")).ToContainTextAsync("2 of 2 heartbeating instances went silent together");
        await Assertions.Expect(page.Locator("#instances tr.silent")).ToHaveCountAsync(2);
        await Assertions.Expect(page.Locator("#events")).ToContainTextAsync("Self-preservation on: 2 of 2");
    }

    private string Ini(int registryPort, int selfPreservationLimit = 0) => $"""
        [registry]
        host = 127.0.0.1
        port = {registryPort}
        heartbeat_timeout = {HeartbeatTimeout.TotalSeconds}
        health_check_interval = 0.5
        self_preservation_limit = {selfPreservationLimit}
        [server]
        heartbeat_interval = {HeartbeatInterval.TotalSeconds}
        """;

    private static float Milliseconds(TimeSpan timeout) => (float)timeout.TotalMilliseconds;
}
