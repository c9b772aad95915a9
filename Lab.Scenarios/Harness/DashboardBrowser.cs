using Microsoft.Playwright;

namespace Lab.Scenarios.Harness;

/// <summary>
/// A real headless browser for the registry's <c>/dashboard</c>: Debian's <c>chromium-headless-shell</c>
/// driven by Playwright. Playwright downloads no browser here; it launches the system one by path.
/// </summary>
/// <remarks>
/// Where the browser is not installed, <see cref="TryLaunchAsync"/> returns null and
/// <see cref="MissingReason"/> says how to install it, so tests can skip and scenarios can say so.
/// Owns the Playwright driver process and the browser; dispose to end both.
/// <example>
/// <code>
/// await using DashboardBrowser? browser = await DashboardBrowser.TryLaunchAsync();
/// (IPage page, int status) = await browser!.OpenAsync(new Uri(registry, "dashboard"));
/// await page.ScreenshotAsync(new() { Path = "dashboard.png", FullPage = true });
/// </code>
/// </example>
/// </remarks>
internal sealed class DashboardBrowser : IAsyncDisposable
{
    /// <summary>What to run where the browser is missing.</summary>
    public const string InstallCommand = "apt-get install chromium-headless-shell";

    // The package's real binary first (/usr/bin/chromium-headless-shell is a shell wrapper around it).
    private static readonly string[] Candidates = ["/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium-headless-shell"];

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private DashboardBrowser(IPlaywright playwright, IBrowser browser) => (_playwright, _browser) = (playwright, browser);

    /// <summary>The browser binary, or null when it is not installed.</summary>
    public static string? ExecutablePath => Candidates.FirstOrDefault(File.Exists);

    /// <summary>Why no browser can be launched here, with the command that fixes it.</summary>
    public static string MissingReason => $"no headless browser here (looked for {string.Join(", ", Candidates)}); install it with: {InstallCommand}";

    /// <summary>Launches the system browser, or returns null when it is not installed.</summary>
    /// <exception cref="PlaywrightException">The browser is installed but failed to start.</exception>
    public static async Task<DashboardBrowser?> TryLaunchAsync()
    {
        if (ExecutablePath is not { } executable)
        {
            return null;
        }

        IPlaywright playwright = await Playwright.CreateAsync().ConfigureAwait(false);
        try
        {
            IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = executable,
                Headless = true,
                Timeout = 30_000,
                // No sandbox: CI runs as root, where Chromium's sandbox refuses to start. The rest keeps
                // the browser from reaching anywhere but the registry under test.
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                        "--disable-component-update", "--disable-default-apps", "--disable-sync", "--no-first-run"],
            }).ConfigureAwait(false);
            return new DashboardBrowser(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>Opens <paramref name="url"/> in a new 1280x800 page and waits for it to load; also returns the HTTP status.</summary>
    public async Task<(IPage Page, int Status)> OpenAsync(Uri url)
    {
        IPage page = await _browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 } }).ConfigureAwait(false);
        IResponse? response = await page.GotoAsync(url.ToString(), new PageGotoOptions { Timeout = 30_000 }).ConfigureAwait(false);
        return (page, response?.Status ?? 0);
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync().ConfigureAwait(false);
        _playwright.Dispose();
    }
}
