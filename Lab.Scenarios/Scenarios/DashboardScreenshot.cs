using Lab.Scenarios.Harness;
using Microsoft.Playwright;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// The registry's live page, seen in a real headless browser: once the servers' heartbeats carry their
/// call counts, the happy path checks the page lists every server and saves a screenshot of it next to
/// the report — what a class sees on the projector.
/// </summary>
internal static class DashboardScreenshot
{
    public static async Task CaptureAsync(ScenarioContext context, RunningRegistry registry, IReadOnlyList<RunningServer> servers)
    {
        await using DashboardBrowser? browser = await DashboardBrowser.TryLaunchAsync();
        if (browser is null)
        {
            context.Note($"no screenshot of the dashboard: {DashboardBrowser.MissingReason}");
            return;
        }

        var url = new Uri(registry.BaseUri, "dashboard");
        (IPage page, int status) = await browser.OpenAsync(url);
        if (status != 200)
        {
            // Another implementation's registry (graded with --registry-command) need not have the page.
            context.Note($"no screenshot: the registry answers HTTP {status} for {url}");
            return;
        }

        context.Step($"opened {url} in headless Chromium (HTTP {status})");
        // Every server listed with its call count: the heartbeat after the client's calls has arrived.
        string[] addresses = [.. servers.Select(server => server.Address)];
        bool shown;
        try
        {
            await page.WaitForFunctionAsync(
                """
                addresses => addresses.every(address => {
                    const row = document.querySelector(`#instances tr[data-address="${address}"]`);
                    // "-": a server that reports no counters (another implementation) has nothing more to wait for.
                    const calls = row === null ? "" : row.cells[5].textContent;
                    return calls === "-" || Number(calls.replaceAll(",", "")) > 0;
                })
                """,
                addresses,
                new PageWaitForFunctionOptions { Timeout = (float)ScenarioContext.Unexpected.TotalMilliseconds });
            shown = true;
        }
        catch (TimeoutException)
        {
            shown = false;
        }

        string path = context.ArtifactPath("happy-path-dashboard.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        context.Check(shown, $"the dashboard lists {string.Join(" and ", addresses)} with the calls each server reported",
            $"after {ScenarioContext.Unexpected.TotalSeconds:0} s the page shows: {await page.Locator("#instances").InnerTextAsync()}");
        context.Step($"saved a screenshot of the dashboard: {path}");
    }
}
