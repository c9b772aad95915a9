using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;

namespace Lab.Client;

/// <summary>Keeps calls flowing when a server goes silent: frozen (SIGSTOP, a long pause) or cut off the
/// network. Such a server refuses nothing — the kernel still accepts for a frozen process, a cut link
/// loses packets — so without help every caller ends up waiting on it for the whole call timeout.</summary>
/// <remarks><para>
/// Two defences. <see cref="Preferred"/> keeps the candidates with the fewest calls outstanding (per
/// unit of weight for weighted_random) before the strategy picks, so calls stuck on a silent server
/// push new calls to the others at once. A watchdog probes every server that has had calls
/// outstanding and answered none for <c>silent_after</c> (<c>all_your_methods</c> on a fresh
/// connection): a slow method still answers, a frozen or cut-off server misses <c>probe_timeout</c>,
/// and <c>onSilent</c> bans it and ends the calls stuck there.</para>
/// <para>It knows no sockets and no client error types: the client passes <c>probe</c> (one call on a fresh
/// connection) and <c>isAnswer</c> (whether an exception is the server's reply, e.g. an error reply).</para>
/// <para>Concurrency: every member may be called concurrently; <see cref="_gate"/> guards <see cref="_servers"/>.
/// The watchdog is owned here: started by <see cref="StartWatchdog"/>, awaited by <see cref="DisposeAsync"/>.</para>
/// <example><code>
/// InstanceMeta server = loadBalance.Select(health.Preferred(candidates, byWeight: false));
/// long sum = await health.TrackAsync(server, () => connection.CallAsync(...));
/// </code></example></remarks>
public sealed class ServerHealth(
    ClientSettings settings, TimeProvider time, ILogger logger,
    Func<InstanceMeta, CancellationToken, Task> probe, Func<Exception, bool> isAnswer, Func<InstanceMeta, string, Task> onSilent) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<InstanceKey, Load> _servers = [];
    private readonly CancellationTokenSource _stopping = new();
    private Task? _watchdog;

    /// <summary>Calls outstanding on <paramref name="server"/>: connecting, sent, or waiting for the reply.</summary>
    public int Outstanding(InstanceKey server)
    {
        lock (_gate)
            return _servers.GetValueOrDefault(server)?.Outstanding ?? 0;
    }

    /// <summary>Runs one call to <paramref name="server"/> as outstanding, from before it connects (a connect
    /// hanging on a cut-off host counts too) to its end. A result or an error reply is an answer.</summary>
    public async Task<T> TrackAsync<T>(InstanceMeta server, Func<Task<T>> call)
    {
        Started(server);
        bool answered = false;
        try
        {
            T value = await call();
            answered = true;
            return value;
        }
        catch (Exception ex) when (isAnswer(ex))
        {
            answered = true;
            throw;
        }
        finally
        {
            Ended(server, answered);
        }
    }

    /// <summary>A call to <paramref name="server"/> begins (before it connects).</summary>
    public void Started(InstanceMeta server) => Update(server, +1, answered: false);

    /// <summary>A call ended; <paramref name="answered"/> when the server replied (a result or an error reply).</summary>
    public void Ended(InstanceMeta server, bool answered) => Update(server, -1, answered);

    /// <summary>The candidates worth the next call: silent servers left out (unless all are), then those with
    /// the fewest outstanding calls. With equal loads it returns <paramref name="candidates"/> itself.</summary>
    public IReadOnlyList<InstanceMeta> Preferred(IReadOnlyList<InstanceMeta> candidates, bool byWeight)
    {
        if (candidates.Count < 2)
            return candidates;
        DateTimeOffset now = time.GetUtcNow();
        List<(InstanceMeta Server, bool Silent, double Load)> scored;
        lock (_gate)
        {
            scored = [.. candidates.Select(server => _servers.GetValueOrDefault(server.Key) is { } load
                ? (server, IsSilent(load, now), load.Outstanding / (byWeight ? server.Weight : 1))
                : (server, false, 0))];
        }

        if (scored.Exists(entry => !entry.Silent))
            scored.RemoveAll(entry => entry.Silent);
        double least = scored.Min(entry => entry.Load);
        return scored.Count(entry => entry.Load == least) == candidates.Count ? candidates : [.. scored.Where(entry => entry.Load == least).Select(entry => entry.Server)];
    }

    /// <summary>Starts the watchdog (registry mode only: in direct mode a ban would turn a pause into failures).</summary>
    public void StartWatchdog() => _watchdog ??= WatchAsync(_stopping.Token);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await (_watchdog ?? Task.CompletedTask);
        _stopping.Dispose();
    }

    // The silence clock restarts with every answer, and with the first call after an idle spell.
    private void Update(InstanceMeta server, int change, bool answered)
    {
        lock (_gate)
        {
            Load load = _servers.GetValueOrDefault(server.Key) ?? (_servers[server.Key] = new Load(server));
            load.QuietSince = answered || load.Outstanding == 0 ? time.GetUtcNow() : load.QuietSince;
            load.Outstanding += change;
        }
    }

    private bool IsSilent(Load load, DateTimeOffset now) => load.Outstanding > 0 && now - load.QuietSince >= settings.SilentAfter;

    private async Task WatchAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(settings.SilentAfter / 4, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                DateTimeOffset now = time.GetUtcNow();
                (InstanceMeta Server, string Why)[] silent;
                lock (_gate)
                {
                    silent = [.. _servers.Values.Where(load => IsSilent(load, now)).Select(load =>
                        (load.Server, $"{load.Outstanding} calls outstanding, none answered for {(now - load.QuietSince).TotalSeconds:0.0} s"))];
                }

                // Side by side; the loop awaits them, so every probe is owned.
                await Task.WhenAll(silent.Select(entry => ProbeAsync(entry.Server, entry.Why, stopping)));
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The client is closing: the normal way out.
        }
    }

    private async Task ProbeAsync(InstanceMeta server, string why, CancellationToken stopping)
    {
        string? failure = null;
        using (var timeout = new CancellationTokenSource(settings.ProbeTimeout, time))
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stopping))
        {
            logger.LogDebug("Probing {Server}: {Why}", server.Address, why);
            try
            {
                await probe(server, deadline.Token);
            }
            catch (Exception ex) when (isAnswer(ex))
            {
                // An error reply is an answer too: the server is alive.
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                failure = ex is OperationCanceledException ? $"no answer within probe_timeout {settings.ProbeTimeout.TotalSeconds:0.###} s" : ex.Message;
            }
        }

        // Either way a new silence window starts: alive, it gets another silent_after; banned, the
        // calls about to end there must not make it look silent again at the next tick.
        Update(server, 0, answered: true);
        if (failure is null)
        {
            logger.LogInformation("Server {Server} is slow but answered a probe ({Why}); keeping it", server.Address, why);
            return;
        }

        try
        {
            await onSilent(server, $"{why}; probe: {failure}");
        }
        catch (Exception ex)
        {
            // A failed ban must not end the watchdog: the next tick tries again.
            logger.LogError(ex, "Banning silent server {Server} failed", server.Address);
        }
    }

    // Guarded by _gate.
    private sealed class Load(InstanceMeta server)
    {
        public InstanceMeta Server { get; } = server;

        public int Outstanding { get; set; }

        public DateTimeOffset QuietSince { get; set; }
    }
}
