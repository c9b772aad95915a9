using System.Net;
using System.Net.Sockets;
using Lab.Bench;
using Lab.Tests.Support;

namespace Lab.Tests.Bench;

public class LoadRunTests
{
    [Test]
    public async Task Concurrent_callers_against_the_floor_make_calls_without_errors()
    {
        await using FloorServer floor = FloorServerTests.StartFloor();
        LoadOptions options = Options(floor.Endpoint.Port, connections: 3);

        LoadResult result = await LoadRun.RunAsync(options, _ => new RawWireCaller(floor.Endpoint, 0, false))
            .WaitAsync(TestTimeouts.Unexpected);

        result.Errors.ShouldBe(0, result.FirstError);
        result.Calls.ShouldBeGreaterThan(0);
        result.Latency.Count.ShouldBe(result.Calls);
        result.P50Microseconds.ShouldBeGreaterThan(0);
        result.CallsPerSecond.ShouldBe(result.Calls / options.Duration.TotalSeconds);
    }

    [Test]
    public async Task Server_that_refuses_connections_shows_as_errors_naming_the_connect()
    {
        int closedPort = FreePorts.Pick();
        LoadOptions options = Options(closedPort, connections: 2);

        LoadResult result = await LoadRun.RunAsync(options, _ => new RawWireCaller(new IPEndPoint(IPAddress.Loopback, closedPort), 0, false))
            .WaitAsync(TestTimeouts.Unexpected);

        result.Calls.ShouldBe(0);
        result.Errors.ShouldBeGreaterThan(0);
        result.FirstError.ShouldNotBeNull().ShouldStartWith("connect failed");
    }

    [Test]
    public async Task Server_that_never_replies_shows_as_timed_out_calls()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen();
        var endpoint = (IPEndPoint)silent.LocalEndPoint!;
        LoadOptions options = Options(endpoint.Port, connections: 1) with { CallTimeout = TestTimeouts.Expected };

        LoadResult result = await LoadRun.RunAsync(options, _ => new RawWireCaller(endpoint, 0, false))
            .WaitAsync(TestTimeouts.Unexpected);

        result.Calls.ShouldBe(0);
        result.Errors.ShouldBeGreaterThan(0);
        result.FirstError.ShouldBe($"call timed out after {TestTimeouts.Expected.TotalSeconds} s");
    }

    private static LoadOptions Options(int port, int connections) => new(
        "127.0.0.1", port, connections, TimeSpan.FromSeconds(0.3), TimeSpan.FromSeconds(0.05), 0, false, TestTimeouts.Unexpected);

}
