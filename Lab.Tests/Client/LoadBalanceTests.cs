using Lab.Client;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;

namespace Lab.Tests.Client;

public class LoadBalanceTests
{
    private static readonly InstanceMeta[] Three =
    [
        new() { Host = "127.0.0.1", Port = 8001 },
        new() { Host = "127.0.0.1", Port = 8002 },
        new() { Host = "127.0.0.1", Port = 8003 },
    ];

    [Test]
    public void Round_robin_visits_instances_in_exact_order_and_wraps()
    {
        var balance = new LoadBalance(LoadBalanceStrategy.RoundRobin);

        int[] ports = Enumerable.Range(0, 7).Select(_ => balance.Select(Three).Port).ToArray();

        ports.ShouldBe([8001, 8002, 8003, 8001, 8002, 8003, 8001]);
    }

    [Test]
    public async Task Round_robin_under_concurrent_calls_gives_each_instance_an_equal_share()
    {
        var balance = new LoadBalance(LoadBalanceStrategy.RoundRobin);
        var counts = new int[3];

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < 3000; i++)
            {
                Interlocked.Increment(ref counts[balance.Select(Three).Port - 8001]);
            }
        })));

        counts.ShouldBe([4000, 4000, 4000]);
    }

    [Test]
    public void Random_spreads_evenly_within_statistical_bounds()
    {
        var balance = new LoadBalance(LoadBalanceStrategy.Random, seed: 42);

        int[] counts = Count(balance, 30_000);

        // Expected 10,000 each; one standard deviation is about 82, so ±500 is over six of them.
        foreach (int count in counts)
        {
            count.ShouldBeInRange(9_500, 10_500);
        }
    }

    [Test]
    public void Random_with_the_same_seed_repeats_the_same_choices()
    {
        var a = new LoadBalance(LoadBalanceStrategy.Random, seed: 7);
        var b = new LoadBalance(LoadBalanceStrategy.Random, seed: 7);

        int[] fromA = Enumerable.Range(0, 50).Select(_ => a.Select(Three).Port).ToArray();
        int[] fromB = Enumerable.Range(0, 50).Select(_ => b.Select(Three).Port).ToArray();

        fromA.ShouldBe(fromB);
        fromA.Distinct().Count().ShouldBe(3);
    }

    [Test]
    public void Weighted_random_follows_the_weights_in_parameters()
    {
        InstanceMeta[] weighted = [WithWeight(8001, 1), WithWeight(8002, 2), WithWeight(8003, 7)];
        var balance = new LoadBalance(LoadBalanceStrategy.WeightedRandom, seed: 42);

        int[] counts = Count(balance, 20_000, weighted);

        // Expected 2,000 / 4,000 / 14,000; the bounds are over four standard deviations wide.
        counts[0].ShouldBeInRange(1_750, 2_250);
        counts[1].ShouldBeInRange(3_700, 4_300);
        counts[2].ShouldBeInRange(13_700, 14_300);
    }

    [Test]
    public void Weighted_random_without_weights_treats_every_instance_as_weight_one()
    {
        var balance = new LoadBalance(LoadBalanceStrategy.WeightedRandom, seed: 3);

        int[] counts = Count(balance, 30_000);

        foreach (int count in counts)
        {
            count.ShouldBeInRange(9_500, 10_500);
        }
    }

    [Test]
    public void A_single_instance_is_always_chosen_and_an_empty_list_is_refused()
    {
        var balance = new LoadBalance(LoadBalanceStrategy.WeightedRandom);

        balance.Select([Three[1]]).ShouldBeSameAs(Three[1]);
        Should.Throw<ArgumentException>(() => balance.Select([]));
    }

    [Test]
    public void The_default_strategy_is_random_as_in_the_lab()
    {
        new LoadBalance().Strategy.ShouldBe(LoadBalanceStrategy.Random);
        new ClientSettings().LoadBalance.ShouldBe(LoadBalanceStrategy.Random);
    }

    private static int[] Count(LoadBalance balance, int picks, InstanceMeta[]? instances = null)
    {
        instances ??= Three;
        var counts = new int[instances.Length];
        for (int i = 0; i < picks; i++)
        {
            counts[balance.Select(instances).Port - 8001]++;
        }

        return counts;
    }

    private static InstanceMeta WithWeight(int port, double weight)
    {
        var instance = new InstanceMeta { Host = "127.0.0.1", Port = port };
        instance.Parameters["weight"] = System.Text.Json.JsonSerializer.SerializeToElement(weight);
        return instance;
    }
}
