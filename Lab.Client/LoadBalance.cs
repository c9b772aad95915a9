using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;

namespace Lab.Client;

/// <summary>Mirrors the lab's <c>LoadBalance</c>: picks the server instance for each call (lab requirements §6).</summary>
/// <remarks><para>
/// Strategies: <see cref="LoadBalanceStrategy.Random"/> (the lab's default: every instance equally
/// likely), <see cref="LoadBalanceStrategy.RoundRobin"/> (each instance in turn) and
/// <see cref="LoadBalanceStrategy.WeightedRandom"/> (likelihood proportional to
/// <see cref="InstanceMeta.Weight"/>, read from the instance's <c>parameters.weight</c>).</para>
/// <para>Concurrency: <see cref="Select"/> may be called from any number of calls at once.
/// <see cref="_gate"/> guards <see cref="_random"/> (<see cref="Random"/> is not thread-safe, and a
/// seeded one must stay reproducible) and the round-robin position; a choice takes far less time
/// than the call it is for, so the lock is never held for long.</para>
/// <example><code>
/// var balance = new LoadBalance(LoadBalanceStrategy.RoundRobin);
/// InstanceMeta first = balance.Select(instances);   // instances[0]
/// InstanceMeta second = balance.Select(instances);  // instances[1]
/// </code></example></remarks>
public sealed class LoadBalance
{
    private readonly Lock _gate = new();
    private readonly Random _random;
    private long _nextRoundRobin = -1;

    /// <param name="seed">A fixed seed makes the random strategies reproducible (tests); null seeds from the clock.</param>
    public LoadBalance(LoadBalanceStrategy strategy = LoadBalanceStrategy.Random, int? seed = null)
    {
        Strategy = strategy;
        _random = seed is { } value ? new Random(value) : new Random();
    }

    public LoadBalanceStrategy Strategy { get; }

    /// <summary>Chooses one of <paramref name="instances"/>.</summary>
    /// <exception cref="ArgumentException">The list is empty: the caller decides what "no server" means.</exception>
    public InstanceMeta Select(IReadOnlyList<InstanceMeta> instances)
    {
        ArgumentNullException.ThrowIfNull(instances);
        if (instances.Count == 0)
            throw new ArgumentException("there is no instance to choose from", nameof(instances));

        if (instances.Count == 1)
            return instances[0];

        lock (_gate)
        {
            return Strategy switch
            {
                // The counter only grows; the modulo maps it onto the current list, so the order stays
                // exact even when the cache is refreshed between calls (same list, same order from the registry).
                LoadBalanceStrategy.RoundRobin => instances[(int)(++_nextRoundRobin % instances.Count)],
                LoadBalanceStrategy.WeightedRandom => SelectWeighted(instances),
                _ => instances[_random.Next(instances.Count)],
            };
        }
    }

    // Called under _gate.
    private InstanceMeta SelectWeighted(IReadOnlyList<InstanceMeta> instances)
    {
        double total = instances.Sum(instance => instance.Weight);

        // A point on [0, total): the instance whose slice of the line holds it wins.
        double point = _random.NextDouble() * total;
        foreach (InstanceMeta instance in instances)
        {
            point -= instance.Weight;
            if (point < 0)
                return instance;
        }

        // Rounding can leave a hair of the line past the last slice; it belongs to the last instance.
        return instances[^1];
    }
}
