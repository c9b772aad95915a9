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

    private string Ini(int registryPort) => $"""
        [registry]
        host = 127.0.0.1
        port = {registryPort}
        heartbeat_timeout = {HeartbeatTimeout.TotalSeconds}
        health_check_interval = 0.5
        [server]
        heartbeat_interval = {HeartbeatInterval.TotalSeconds}
        """;

    private static float Milliseconds(TimeSpan timeout) => (float)timeout.TotalMilliseconds;
}
