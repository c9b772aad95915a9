using Microsoft.Extensions.Logging;

namespace Lab.Protocol.Discovery;

/// <summary>
/// The server side's background loop, the same for every backend: register at once, then renew
/// every interval (a heartbeat, or an etcd lease keep-alive).
/// </summary>
/// <remarks>
/// A failure of any kind is an outage, never the end of the loop — recovering is its whole point (the
/// original lab's heartbeat died on the first error). An outage is logged once, not once per attempt,
/// and retried with a capped backoff: quick retries first, then one per interval, never a spin. Only
/// <c>stoppingToken</c> ends the loop; the caller owns and awaits the returned task.
/// </remarks>
public static class KeepAliveLoop
{
    /// <summary>Runs until <paramref name="stoppingToken"/> fires; <paramref name="renewAsync"/> throws when the registry cannot be reached.</summary>
    public static async Task RunAsync(Func<CancellationToken, Task> renewAsync, InstanceMeta instance, string registryAddress,
        TimeSpan interval, TimeProvider timeProvider, ILogger logger, CancellationToken stoppingToken)
    {
        // Yield first: the caller's start returns at once, the loop runs in the background.
        await Task.Yield();
        bool registeredOnce = false;
        bool inOutage = false;
        TimeSpan firstRetry = interval / 4;
        TimeSpan retryDelay = firstRetry;
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan wait = interval;
            try
            {
                await renewAsync(stoppingToken).ConfigureAwait(false);
                if (inOutage)
                {
                    logger.LogInformation("Registry reachable again; registered as {Instance}", instance);
                }
                else if (!registeredOnce)
                {
                    logger.LogInformation("Registered with registry at {Registry} as {Instance}", registryAddress, instance);
                }
                else
                {
                    logger.LogDebug("Heartbeat sent to {Registry}", registryAddress);
                }

                (registeredOnce, inOutage, retryDelay) = (true, false, firstRetry);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                if (!inOutage)
                {
                    logger.LogInformation("Registry unreachable at {Registry}: {Reason}; serving anyway and retrying", registryAddress, ex.Message);
                    inOutage = true;
                }
                else
                {
                    logger.LogDebug(ex, "Registry still unreachable: {Reason}", ex.Message);
                }

                wait = retryDelay;
                retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, interval.Ticks));
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                return;   // stopping cancels the renewal in flight, however the client library reports it
            }

            try
            {
                await Task.Delay(wait, timeProvider, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
