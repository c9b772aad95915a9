using System.Globalization;
using Lab.Protocol.Settings;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lab.Registry;

/// <summary>The registry center's periodic health check (the lab's timer thread inside <c>RegistryService</c>):
/// every <c>health_check_interval</c> it evicts the instances whose last heartbeat is older than
/// <c>heartbeat_timeout</c>, so clients stop being sent to servers that died without unregistering —
/// unless most of them went silent at once (self-preservation, see <see cref="RegistryService.SelfPreservation"/>).</summary>
/// <remarks>A hosted service: the host starts it with the registry and stops it (cancelling
/// <c>stoppingToken</c>) on shutdown, so the loop is owned and awaited. The timer runs on the injected
/// <see cref="TimeProvider"/>: tests advance a fake clock and the check runs at once.
/// <example><code>
/// builder.Services.AddSingleton&lt;RegistryService&gt;();
/// builder.Services.AddHostedService&lt;HealthChecker&gt;();
/// // ... logs "Evicted json://127.0.0.1:8089 (no heartbeat for 10.2 s)"
/// </code></example></remarks>
public sealed class HealthChecker(RegistryService registry, RegistrySettings settings, TimeProvider timeProvider, ILogger<HealthChecker> logger)
    : BackgroundService
{
    // Created here, not in ExecuteAsync: the host runs ExecuteAsync on another thread, and a test that
    // advances the clock right after start-up must not slip in before the timer exists.
    private readonly PeriodicTimer _timer = new(settings.HealthCheckInterval, timeProvider);
    private bool _preserving;   // only the timer loop touches it, one check at a time

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    (bool preserving, int silent, int total) = registry.SelfPreservation();
                    if (preserving != _preserving)
                    {
                        _preserving = preserving;
                        logger.LogWarning(preserving
                            ? "Self-preservation on: {Silent} of {Total} instances missed their heartbeats at once; evicting nobody until heartbeats return"
                            : "Self-preservation off: {Silent} of {Total} instances silent; evicting again", silent, total);
                    }

                    IReadOnlyList<EvictedInstance> evicted = registry.EvictExpired();
                    foreach (EvictedInstance gone in evicted)
                        logger.LogInformation("Evicted {Instance} (no heartbeat for {Seconds} s)", gone.Instance, gone.Silence.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture));
                    logger.LogDebug("Health check done: {Evicted} evicted, {Remaining} registered", evicted.Count, registry.Snapshot().Count);
                }
                catch (Exception ex)
                {
                    // One failed check must not end health checking for the registry's lifetime.
                    logger.LogError(ex, "Health check failed; trying again at the next interval");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The registry is stopping: the normal way out of the loop.
        }
    }

    public override void Dispose()
    {
        _timer.Dispose();
        base.Dispose();
    }
}
