using System.Text.Json;
using Lab.Server;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Server;

/// <summary>
/// The server's meter, read the way dotnet-counters reads it (a <see cref="MeterRecorder"/>), while real calls
/// go over real sockets. The meter is per process and other tests may call too, so counts are checked as
/// "at least".
/// </summary>
[NonParallelizable]
public class ServerMetricsTests
{
    private const string Add = """{"method_name": "add", "method_args": [1, 2], "method_kwargs": {}}""";
    private const string DivideByZero = """{"method_name": "divide", "method_args": [1, 0], "method_kwargs": {}}""";

    [Test]
    public async Task Server_counts_calls_by_method_and_outcome_with_durations_bytes_and_open_connections()
    {
        using var recorder = new MeterRecorder(ServerMetrics.MeterName);
        await using var server = new RunningTcpServer();
        await using (RawRpcConnection client = await server.ConnectAsync())
        {
            for (int i = 0; i < 20; i++)
            {
                await client.CallAsync(Add);
            }

            await client.CallAsync(DivideByZero);
            recorder.Observe();
            recorder.Last("rpclab.server.connections.open").ShouldBeGreaterThanOrEqualTo(1);
        }

        recorder.Sum("rpclab.server.calls", ("method", "add"), ("outcome", "ok")).ShouldBeGreaterThanOrEqualTo(20);
        recorder.Sum("rpclab.server.calls", ("method", "divide"), ("outcome", "MethodFailed")).ShouldBeGreaterThanOrEqualTo(1);
        recorder.Count("rpclab.server.call.duration").ShouldBeGreaterThanOrEqualTo(21);
        recorder.Sum("rpclab.server.bytes.received").ShouldBeGreaterThanOrEqualTo((20 * Add.Length) + DivideByZero.Length);
        recorder.Sum("rpclab.server.bytes.sent").ShouldBeGreaterThan(21 * 10);
    }

    [Test]
    public void Heartbeat_parameters_carry_the_call_totals_and_keep_the_weight()
    {
        var parameters = new Dictionary<string, JsonElement> { ["weight"] = JsonSerializer.SerializeToElement(3) };

        ServerMetrics.StampHeartbeat(parameters);

        parameters["weight"].GetInt32().ShouldBe(3);
        parameters[ServerMetrics.CallsParameter].ValueKind.ShouldBe(JsonValueKind.Number);
        parameters[ServerMetrics.ErrorsParameter].GetInt64().ShouldBeLessThanOrEqualTo(parameters[ServerMetrics.CallsParameter].GetInt64());
        parameters[ServerMetrics.CallsPerSecondParameter].GetDouble().ShouldBeGreaterThanOrEqualTo(0);
    }
}
