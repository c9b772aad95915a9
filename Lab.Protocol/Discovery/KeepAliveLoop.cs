using Microsoft.Extensions.Logging;

namespace Lab.Protocol.Discovery;

/// <summary>The server side's background loop, the same for every backend: register at once, then renew
/// every interval (a heartbeat, or an etcd lease keep-alive).</summary>
/// <remarks>A failure of any kind is an outage, never the end of the loop — recovering is its whole point
/// (the original lab's heartbeat died on the first error). An outage is logged once, not once per
/// attempt, and retried with a capped backoff: quick retries first, then one per interval, never a
/// spin. Only <c>stoppingToken</c> ends the loop; the caller owns and awaits the returned task.</remarks>
public static class KeepAliveLoop
{
    /// <summary>Runs until <paramref name="stoppingToken"/> fires; <paramref name="renewAsync"/> throws when the registry cannot be reached.</summary>
    public static async Task RunAsync(Func<CancellationToken, Task> renewAsync, InstanceMeta instance, string registryAddress,
        TimeSpan interval, TimeProvider timeProvider, ILogger logger, CancellationToken stoppingToken)
    {
        // Yield first: the caller's start returns at once, the loop runs in the background.
        await Task.Yield();
        // Created before the first renewal, so the ticks keep their rhythm from the start whatever a
        // renewal costs (and a test's fake clock can move on as soon as it sees the registration).
        using var timer = new PeriodicTimer(interval, timeProvider);
        bool registeredOnce = false;
        bool inOutage = false;
        TimeSpan firstRetry = interval / 4;
        TimeSpan retryDelay = firstRetry;
        try
        {
            while (true)
            {
                try
                {
                    await renewAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Any exception, not only network ones: a loop that gives up for good (even on a bug,
                    // or a process briefly out of file descriptors) leaves a server nobody finds.
                    if (!inOutage)
                        logger.LogInformation("Registry unreachable at {Registry}: {Reason}; serving anyway and retrying", registryAddress, ex.Message);
                    else
                        logger.LogDebug("Registry still unreachable: {Reason}", ex.Message);
                    inOutage = true;

                    await Task.Delay(retryDelay, timeProvider, stoppingToken).ConfigureAwait(false);
                    retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, interval.Ticks));
                    continue;
                }

                if (inOutage)
                    logger.LogInformation("Registry reachable again; registered as {Instance}", instance);
                else if (!registeredOnce)
                    logger.LogInformation("Registered with registry at {Registry} as {Instance}", registryAddress, instance);
                else
                    logger.LogDebug("Heartbeat sent to {Registry}", registryAddress);

                (registeredOnce, inOutage, retryDelay) = (true, false, firstRetry);
                await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped: the only way out. Stopping cancels a renewal in flight, however the client library
            // reports it (gRPC throws RpcException Cancelled, not OperationCanceledException).
        }
    }
}
