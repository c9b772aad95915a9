using System.Text.Json;
using Lab.Client;
using Lab.Protocol.Messages;

namespace Lab.ClientApp;

/// <summary>The lab's demo (<c>Lab.ClientApp</c> with no method): one call of every demo method with the value it
/// must return, then 30 concurrent calls, each line showing the result and the server that answered,
/// then the per-server summary. Exit code 1 if any call failed or returned a wrong value.</summary>
public sealed class DemoRun(RpcClient client, TextWriter output, TextWriter error)
{
    public const int ConcurrentCalls = 30;

    // The ten lab methods (lab requirements §5) with the answers the lab document gives; divide by zero must fail.
    private static readonly DemoCall[] SequentialCalls =
    [
        new("add", [1, 2], Expected: "13"),
        new("add", [1, 2], Kwargs: new Dictionary<string, object?> { ["c"] = 5 }, Expected: "8"),
        new("subtract", [10, 4], Expected: "6"),
        new("multiply", [6, 7], Expected: "42"),
        new("divide", [10, 4], Expected: "2.5"),
        new("divide", [1, 0], ExpectedError: RpcErrorCode.MethodFailed),
        new("area_of_circle", [2], Expected: "12.566370614359172"),
        new("square", [9], Expected: "81"),
        new("to_uppercase", ["hello rpc"], Expected: "\"HELLO RPC\""),
        new("reverse_string", ["hello"], Expected: "\"olleh\""),
        new("hi", ["bob"], Expected: "\"hi bob, welcome\""),
        new("hello", ["world"], Expected: "\"Hello, world!\""),
    ];

    private static readonly string[] DemoMethodNames = [.. SequentialCalls.Select(call => call.Method).Distinct()];

    private readonly TextWriter _output = TextWriter.Synchronized(output);
    private readonly TextWriter _error = TextWriter.Synchronized(error);
    private readonly CallTally _tally = new();

    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        await _output.WriteLineAsync("Sequential calls, one per demo method:");
        await CheckDiscoveryAsync(cancellationToken);
        foreach (DemoCall call in SequentialCalls)
            await RunSequentialAsync(call, cancellationToken);

        await _output.WriteLineAsync($"{ConcurrentCalls} concurrent calls:");
        await Task.WhenAll(Enumerable.Range(1, ConcurrentCalls).Select(i => RunConcurrentAsync(i, cancellationToken)));

        _tally.WriteSummary(_output);
        return _tally.TotalFailed == 0 ? 0 : 1;
    }

    // The lab's discovery: the server must list all ten demo methods.
    private async Task CheckDiscoveryAsync(CancellationToken cancellationToken)
    {
        const string text = "all_your_methods()";
        try
        {
            RpcCallResult<JsonElement> listed = await client.CallDetailedAsync<JsonElement>(RpcRequest.DiscoveryMethodName, cancellationToken: cancellationToken);
            IReadOnlySet<string> names = ServerMethods.ReadNames(listed.Value);
            string[] missing = DemoMethodNames.Where(name => !names.Contains(name)).ToArray();
            string verdict = missing.Length == 0 ? "all 10 demo methods listed: ok" : $"WRONG, missing {string.Join(", ", missing)}";
            await _output.WriteLineAsync($"{text} = {names.Count} methods  [server {listed.Server}]  {verdict}");
            _tally.Record(listed.Server, missing.Length == 0);
        }
        catch (RpcException ex)
        {
            await ReportFailureAsync(text, ex);
        }
    }

    private async Task RunSequentialAsync(DemoCall call, CancellationToken cancellationToken)
    {
        string text = CallText.Call(call.Method, call.Args, call.Kwargs);
        try
        {
            RpcCallResult<JsonElement> result = await client.CallDetailedAsync<JsonElement>(call.Method, call.Args, call.Kwargs, cancellationToken: cancellationToken);
            bool correct = call.Expected is not null && SameValue(result.Value, call.Expected);
            string expected = call.Expected ?? $"an error {call.ExpectedError}";
            await _output.WriteLineAsync($"{text} = {CallText.Value(result.Value)}  [server {result.Server}]  expected {expected}: {(correct ? "ok" : "WRONG")}");
            _tally.Record(result.Server, correct);
        }
        catch (RpcRemoteException ex) when (ex.Code == call.ExpectedError)
        {
            // The error this call exists to show: a typed error reply, not a string result.
            await _output.WriteLineAsync($"{text} failed: {CallText.Failure(ex)}  [server {ex.Server}]  expected {call.ExpectedError}: ok");
            _tally.Record(ex.Server!, succeeded: true);
        }
        catch (RpcException ex)
        {
            await ReportFailureAsync(text, ex);
        }
    }

    private async Task RunConcurrentAsync(int i, CancellationToken cancellationToken)
    {
        object?[] args = [i, i];
        string text = CallText.Call("add", args);
        try
        {
            // Read as JSON, not long: a server that answers 12.0 is still right, and says so here.
            RpcCallResult<JsonElement> result = await client.CallDetailedAsync<JsonElement>("add", args, cancellationToken: cancellationToken);
            string expected = ((2 * i) + 10).ToString(System.Globalization.CultureInfo.InvariantCulture);
            bool correct = SameValue(result.Value, expected);
            await _output.WriteLineAsync($"{text} = {CallText.Value(result.Value)}  [server {result.Server}]{(correct ? "" : $"  WRONG, expected {expected}")}");
            _tally.Record(result.Server, correct);
        }
        catch (RpcException ex)
        {
            await ReportFailureAsync(text, ex);
        }
    }

    private async Task ReportFailureAsync(string text, RpcException failure)
    {
        await _error.WriteLineAsync($"{text} failed: {CallText.Failure(failure)}");
        _tally.Failed(CallText.ServerOf(failure));
    }

    // Numbers compare by value with a relative tolerance (pi * r^2 may be computed in another order);
    // everything else must be the same JSON.
    internal static bool SameValue(JsonElement actual, string expectedJson)
    {
        using JsonDocument expectedDocument = JsonDocument.Parse(expectedJson);
        JsonElement expected = expectedDocument.RootElement;
        if (actual.ValueKind == JsonValueKind.Number && expected.ValueKind == JsonValueKind.Number)
        {
            double a = actual.GetDouble(), e = expected.GetDouble();
            return Math.Abs(a - e) <= 1e-9 * Math.Max(1, Math.Abs(e));
        }

        return JsonElement.DeepEquals(actual, expected);
    }

    private sealed record DemoCall(
        string Method,
        object?[] Args,
        IReadOnlyDictionary<string, object?>? Kwargs = null,
        string? Expected = null,
        RpcErrorCode? ExpectedError = null);
}
