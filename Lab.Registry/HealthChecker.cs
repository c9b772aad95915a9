using System.Globalization;
using Lab.Protocol.Settings;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lab.Registry;

/// <summary>The registry center's periodic health check (the lab's timer thread inside <c>RegistryService</c>):
/// every <c>health_check_interval</c> it evicts the instances whose last heartbeat is older than
/// <c>heartbeat_timeout</c>, so clients stop being sent to servers that died without unregistering —
/// unless self-preservation is on and most of them went silent together (see <see cref="RegistryService.EvictExpired"/>).</summary>
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
                    (IReadOnlyList<EvictedInstance> evicted, SelfPreservationState preservation) = registry.EvictExpired();
                    if (preservation.Preserving != _preserving)
                    {
                        _preserving = preservation.Preserving;
                        // Warnings: holding dead servers, or ending the hold, is something an operator must see.
                        if (preservation.Preserving)
                            logger.LogWarning("Self-preservation on: {Silent} of {Total} heartbeating instances went silent together (within {Window} s); keeping them listed for at most {Limit} s past heartbeat_timeout (self_preservation_limit), in case the registry was cut off from them rather than they all died",
                                preservation.Silent, preservation.Total, Seconds(preservation.Window), Seconds(preservation.Limit));
                        else
                            logger.LogWarning("Self-preservation off: {Silent} of {Total} instances silent; evicting again", preservation.Silent, preservation.Total);
                    }

                    foreach (EvictedInstance gone in evicted)
                    {
                        switch (gone.Reason)
                        {
                            case EvictionReason.HeldTooLong:
                                logger.LogWarning("Evicted {Instance} (no heartbeat for {Seconds} s: self-preservation holds an instance for at most {Limit} s past heartbeat_timeout)",
                                    gone.Instance, Seconds(gone.Silence), Seconds(settings.SelfPreservationLimit));
                                break;
                            case EvictionReason.NeverHeartbeated:
                                logger.LogInformation("Evicted {Instance} (no heartbeat for {Seconds} s; it never sent one after registering)", gone.Instance, Seconds(gone.Silence));
                                break;
                            default:
                                logger.LogInformation("Evicted {Instance} (no heartbeat for {Seconds} s)", gone.Instance, Seconds(gone.Silence));
                                break;
                        }
                    }

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

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);

    public override void Dispose()
    {
        _timer.Dispose();
        base.Dispose();
    }
}
