using System.Collections.Concurrent;
using Lab.Client;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Lab.Server;
using Lab.Tests.Client.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Client;

// ServerHealth on a fake clock: which servers the next call may go to, and the watchdog that probes
// a silent server over a real socket and bans it only when the probe goes unanswered.
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public class ServerHealthTests
{
    private static readonly ClientSettings Settings = ClientTestSettings.Fast with
    {
        SilentAfter = TimeSpan.FromSeconds(2),
        ProbeTimeout = TimeSpan.FromSeconds(2),
    };

    private static readonly InstanceMeta A = new() { Host = "127.0.0.1", Port = 8001 };
    private static readonly InstanceMeta B = new() { Host = "127.0.0.1", Port = 8002 };

    private readonly LogRecorder _logs = new();
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly ConcurrentQueue<(string Server, string Why)> _banned = new();

    [Test]
    public async Task With_equal_outstanding_calls_every_candidate_stays_for_the_strategy()
    {
        await using ServerHealth health = Create();
        health.Started(A);
        health.Started(B);

        health.Preferred([A, B], byWeight: false).ShouldBe([A, B]);
    }

    [Test]
    public async Task The_server_with_fewer_outstanding_calls_is_preferred()
    {
        await using ServerHealth health = Create();
        health.Started(A);
        health.Started(A);
        health.Started(B);

        health.Preferred([A, B], byWeight: false).ShouldBe([B]);
        health.Ended(A, answered: true);
        health.Preferred([A, B], byWeight: false).ShouldBe([A, B]);
    }

    [Test]
    public async Task With_weighted_random_outstanding_calls_are_counted_per_unit_of_weight()
    {
        await using ServerHealth health = Create();
        InstanceMeta heavy = Weighted(A, 3);
        health.Started(heavy);
        health.Started(heavy);

        // Two calls on weight 3 (0.67 each unit) against none on weight 1: the idle one still wins...
        health.Preferred([heavy, B], byWeight: true).ShouldBe([B]);
        health.Started(B);
        // ...but one call on weight 1 is a heavier load than two on weight 3.
        health.Preferred([heavy, B], byWeight: true).ShouldBe([heavy]);
        health.Preferred([heavy, B], byWeight: false).ShouldBe([B]);
    }

    [TestCase(LoadBalanceStrategy.RoundRobin)]
    [TestCase(LoadBalanceStrategy.Random)]
    public async Task Calls_stuck_on_a_frozen_server_hold_at_most_half_of_four_workers(LoadBalanceStrategy strategy)
    {
        // Four workers call in turn; B is frozen, so a call sent there never ends, while a call to A
        // ends when its worker's turn comes round again (three others may be inside A meanwhile).
        await using ServerHealth health = Create();
        var load = new LoadBalance(strategy, seed: 7);
        var onA = new bool[4];
        var stuck = new bool[4];
        int callsToA = 0;
        for (int round = 0; round < 100; round++)
        {
            for (int worker = 0; worker < 4; worker++)
            {
                if (stuck[worker])
                {
                    continue;
                }

                if (onA[worker])
                {
                    health.Ended(A, answered: true);
                }

                InstanceMeta chosen = load.Select(health.Preferred([A, B], byWeight: false));
                health.Started(chosen);
                onA[worker] = chosen == A;
                stuck[worker] = chosen == B;
                callsToA += chosen == A ? 1 : 0;
            }
        }

        stuck.Count(isStuck => isStuck).ShouldBeLessThanOrEqualTo(2);
        callsToA.ShouldBeGreaterThan(100);
    }

    [Test]
    public async Task A_server_becomes_silent_only_after_silent_after_with_calls_outstanding()
    {
        await using ServerHealth health = Create();
        _clock.Advance(TimeSpan.FromMinutes(5));   // long idle: silence counts from the first outstanding call
        health.Started(A);
        health.Started(B);
        health.Started(B);
        _clock.Advance(Settings.SilentAfter - TimeSpan.FromMilliseconds(1));
        health.Preferred([A, B], byWeight: false).ShouldBe([A]);

        health.Ended(B, answered: true);   // B answered one: its silence starts again
        _clock.Advance(TimeSpan.FromMilliseconds(1));

        // A has one call outstanding for silent_after and no answer: left out, although B has as many.
        health.Preferred([A, B], byWeight: false).ShouldBe([B]);
        // When every server is silent, none is left out: the strategy must have something to pick.
        _clock.Advance(Settings.SilentAfter);
        health.Preferred([A, B], byWeight: false).ShouldBe([A, B]);
    }

    [Test]
    public async Task A_frozen_server_that_misses_the_probe_is_reported_with_the_reason()
    {
        await using var frozen = new MisbehavingServer(Misbehaviour.NeverAnswers);
        var server = new InstanceMeta { Host = frozen.Host, Port = frozen.Port };
        await using ServerHealth health = Create();
        health.StartWatchdog();
        health.Started(server);

        _clock.Advance(Settings.SilentAfter);
        await _logs.WaitForAsync(LogLevel.Debug, $"Probing {server.Address}: 1 calls outstanding, none answered for 2.0 s");
        // The probe reached the frozen server (the kernel accepts, the process reads, nobody answers).
        await frozen.WaitUntilAsync(s => s.RequestsReceived == 1, "the probe request to arrive");
        _banned.ShouldBeEmpty();
        _clock.Advance(Settings.ProbeTimeout);

        await WaitUntilAsync(() => !_banned.IsEmpty, "the ban");
        _banned.Single().ShouldBe((server.Address, "1 calls outstanding, none answered for 2.0 s; probe: no answer within probe_timeout 2 s"));
    }

    [Test]
    public async Task A_slow_server_that_answers_the_probe_is_kept()
    {
        await using RunningTcpServer slow = RunningTcpServer.Start("slow");
        var server = new InstanceMeta { Host = slow.Host, Port = slow.Port };
        await using ServerHealth health = Create();
        health.StartWatchdog();
        health.Started(server);

        _clock.Advance(Settings.SilentAfter);

        await _logs.WaitForAsync(LogLevel.Information, $"Server {server.Address} is slow but answered a probe");
        _banned.ShouldBeEmpty();
        // The answer restarted its silence: it is not silent again until another silent_after.
        health.Preferred([server, A], byWeight: false).ShouldBe([A]);
        health.Started(A);
        health.Preferred([server, A], byWeight: false).ShouldBe([server, A]);
    }

    [Test]
    public async Task An_unreachable_server_is_reported_with_the_connect_failure()
    {
        int closedPort = UnusedPort();
        var server = new InstanceMeta { Host = "127.0.0.1", Port = closedPort };
        await using ServerHealth health = Create();
        health.StartWatchdog();
        health.Started(server);

        _clock.Advance(Settings.SilentAfter);

        await WaitUntilAsync(() => !_banned.IsEmpty, "the ban");
        _banned.Single().Why.ShouldStartWith($"1 calls outstanding, none answered for 2.0 s; probe: connecting to 127.0.0.1:{closedPort} failed");
    }

    private static int UnusedPort()
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        return ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static InstanceMeta Weighted(InstanceMeta instance, double weight)
    {
        var weighted = new InstanceMeta { Host = instance.Host, Port = instance.Port };
        weighted.Parameters["weight"] = System.Text.Json.JsonSerializer.SerializeToElement(weight);
        return weighted;
    }

    private ServerHealth Create() =>
        new(Settings, _clock, _logs.CreateFactory().CreateLogger<ServerHealth>(), (server, token) => RpcClient.ProbeAsync(Settings, server, token),
            static ex => ex is RpcRemoteException, (server, why) =>
        {
            _banned.Enqueue((server.Address, why));
            return Task.CompletedTask;
        });

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (!condition())
        {
            try
            {
                await Task.Delay(10, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"waited {TestTimeouts.Unexpected.TotalSeconds} s for {what}");
            }
        }
    }
}
