using Lab.Bench;
using Lab.Tests.Support;
using Lab.Client;
using Lab.Protocol.Settings;

namespace Lab.Tests.Bench;

public class RpcClientCallerTests
{
    [TestCase(false)]
    [TestCase(true)]
    public async Task Calls_add_through_RpcClient_and_accepts_13(bool useDynamicProxy)
    {
        await using FloorServer floor = FloorServerTests.StartFloor();
        await using RpcClient client = RpcClient.Direct("127.0.0.1", floor.Endpoint.Port, new ClientSettings { Mode = ClientMode.Server });
        await using var caller = new RpcClientCaller(client, useDynamicProxy);
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);

        await caller.CallAsync(deadline.Token);
        await caller.CallAsync(deadline.Token);
    }

    [Test]
    public async Task Typed_callers_under_load_run_make_calls_without_errors()
    {
        await using FloorServer floor = FloorServerTests.StartFloor();
        await using RpcClient client = RpcClient.Direct("127.0.0.1", floor.Endpoint.Port, new ClientSettings { Mode = ClientMode.Server });
        var options = new LoadOptions("127.0.0.1", floor.Endpoint.Port, 3, TimeSpan.FromSeconds(0.3), TimeSpan.FromSeconds(0.05), 0, false, TestTimeouts.Unexpected);

        LoadResult result = await LoadRun.RunAsync(options, _ => new RpcClientCaller(client, useDynamicProxy: false))
            .WaitAsync(TestTimeouts.Unexpected);

        result.Errors.ShouldBe(0, result.FirstError);
        result.Calls.ShouldBeGreaterThan(0);
    }
}
