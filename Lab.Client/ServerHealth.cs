using System.Collections.Concurrent;
using Lab.Client.Transport;
using Lab.Protocol.Configuration;
using Lab.Protocol.Discovery;
using Lab.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace Lab.Client;

/// <summary>
/// Keeps calls flowing when one server goes silent: frozen (SIGSTOP, a long GC pause) or its host cut
/// off the network. Such a server refuses nothing — the kernel still accepts connections, or packets
/// vanish — so without help every caller ends up waiting on it for the whole call timeout.
/// </summary>
/// <remarks>
/// <para>
/// Two defences. <see cref="Preferred"/> narrows the candidates before <see cref="LoadBalance"/> picks:
/// it keeps the servers with the fewest calls outstanding (per unit of weight for weighted_random),
/// so calls stuck on a silent server push new calls to the others at once and a client with several
/// workers never stalls. A watchdog then finds a server that has had calls outstanding and answered
/// none for <c>silent_after</c>, and probes it (<c>all_your_methods</c> on a fresh connection,
/// <c>probe_timeout</c>). A slow method does not fail the probe; a frozen or unreachable server does,
/// and <c>onSilent</c> bans it and ends the calls stuck on it.
/// </para>
/// <para>
/// Concurrency: <see cref="Started"/>, <see cref="Ended"/> and <see cref="Preferred"/> may be called by
/// any number of calls at once; each server's <see cref="State"/> is guarded by locking it. The watchdog
/// is owned here: started by <see cref="StartWatchdog"/>, stopped and awaited by <see cref="DisposeAsync"/>.
/// </para>
/// <example>
/// <code>
/// var health = new ServerHealth(settings, TimeProvider.System, logger, (server, why) => BanAsync(server, why));
/// health.StartWatchdog();
/// health.Started(server); try { ... } finally { health.Ended(server.Key, answered); }
/// </code>
/// </example>
/// </remarks>
public sealed class ServerHealth(ClientSettings settings, TimeProvider time, ILogger logger, Func<InstanceMeta, string, Task> onSilent) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<InstanceKey, State> _servers = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task? _watchdog;

    /// <summary>Calls outstanding on <paramref name="server"/>: connecting, sent, or waiting for the reply.</summary>
    public int Outstanding(InstanceKey server) => _servers.TryGetValue(server, out State? state) ? Volatile.Read(ref state.Outstanding) : 0;

    /// <summary>A call to <paramref name="server"/> begins (before it connects).</summary>
    public void Started(InstanceMeta server)
    {
        State state = _servers.GetOrAdd(server.Key, _ => new State(server));
        lock (state)
        {
            // The silence clock starts with the first outstanding call, not at the last answer long ago.
            state.QuietSince = state.Outstanding++ == 0 ? time.GetUtcNow() : state.QuietSince;
        }
    }

    /// <summary>A call ended; <paramref name="answered"/> when the server replied (a result or an error reply).</summary>
    public void Ended(InstanceKey server, bool answered)
    {
        State state = _servers[server];
        lock (state)
        {
            state.Outstanding--;
            state.QuietSince = answered ? time.GetUtcNow() : state.QuietSince;
        }
    }

    /// <summary>
    /// The candidates worth sending the next call to: silent servers are left out (unless all are),
    /// then those with the fewest outstanding calls are kept. The strategy chooses among them.
    /// </summary>
    public IReadOnlyList<InstanceMeta> Preferred(IReadOnlyList<InstanceMeta> candidates, bool byWeight)
    {
        if (candidates.Count < 2)
        {
            return candidates;
        }

        DateTimeOffset now = time.GetUtcNow();
        var scored = candidates.Select(server => (server, silent: IsSilent(server.Key, now),
                                                  load: Outstanding(server.Key) / (byWeight ? server.Weight : 1))).ToList();
        if (scored.Exists(entry => !entry.silent))
        {
            scored.RemoveAll(entry => entry.silent);
        }

        double least = scored.Min(entry => entry.load);
        return scored.Count(entry => entry.load == least) == candidates.Count
            ? candidates
            : [.. scored.Where(entry => entry.load == least).Select(entry => entry.server)];
    }

    /// <summary>Starts the watchdog loop (registry mode: a banned server leaves the others to answer).</summary>
    public void StartWatchdog() => _watchdog ??= WatchAsync(_stopping.Token);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_watchdog is not null)
        {
            await _watchdog;
        }

        _stopping.Dispose();
    }

    private bool IsSilent(InstanceKey server, DateTimeOffset now)
    {
        if (!_servers.TryGetValue(server, out State? state))
        {
            return false;
        }

        lock (state)
        {
            return state.Outstanding > 0 && now - state.QuietSince >= settings.SilentAfter;
        }
    }

    private async Task WatchAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(settings.SilentAfter / 4, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                DateTimeOffset now = time.GetUtcNow();
                try
                {
                    // Probes run side by side and the loop waits for them, so each is owned and awaited.
                    await Task.WhenAll(_servers.Values.Where(state => IsSilent(state.Server.Key, now))
                                                   .Select(state => ProbeAsync(state, now - state.QuietSince, stopping)));
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogError(ex, "Server health check failed; checking again at the next tick");
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The client is closing: the normal way out.
        }
    }

    private async Task ProbeAsync(State state, TimeSpan silence, CancellationToken stopping)
    {
        InstanceMeta server = state.Server;
        string why = $"{Outstanding(server.Key)} calls outstanding, none answered for {silence.TotalSeconds:0.0} s";
        string? failure = null;
        using (var timeout = new CancellationTokenSource(settings.ProbeTimeout, time))
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stopping))
        {
            logger.LogDebug("Probing {Server}: {Why}", server.Address, why);
            try
            {
                await using ServerConnection probe = await ServerConnection.ConnectAsync(server.Host, server.Port, settings, deadline.Token);
                await probe.CallAsync(RpcRequest.DiscoveryMethodName, null, null, static _ => true, deadline.Token);
            }
            catch (RpcRemoteException)
            {
                // An error reply is still an answer: the server is alive.
            }
            catch (Exception ex) when (ex is RpcException or OperationCanceledException && !stopping.IsCancellationRequested)
            {
                failure = ex is OperationCanceledException ? $"no answer within probe_timeout {settings.ProbeTimeout.TotalSeconds:0.###} s" : ex.Message;
            }
        }

        // Either way a new silence window starts: alive, it gets another silent_after; banned, the
        // calls about to end there must not make it look silent again at the next tick.
        lock (state)
        {
            state.QuietSince = time.GetUtcNow();
        }

        if (failure is null)
        {
            logger.LogInformation("Server {Server} is slow but answered a probe ({Why}); keeping it", server.Address, why);
        }
        else
        {
            await onSilent(server, $"{why}; probe: {failure}");
        }
    }

    // Guarded by locking the instance itself.
    private sealed class State(InstanceMeta server)
    {
        public InstanceMeta Server { get; } = server;

        public int Outstanding;

        public DateTimeOffset QuietSince;
    }
}
