using Microsoft.Extensions.Logging;
using System.Text.Json;
using Lab.Protocol.Messages;
using Lab.Server;

namespace Lab.Tests.Server;

public class ServerStubTests
{
    private static readonly TimeSpan LongTimeout = TimeSpan.FromSeconds(30);

    [Test]
    public async Task Arguments_bind_by_position()
    {
        var stub = new ServerStub(LongTimeout);
        stub.Register("add", (double a, double b, double c = 10) => a + b + c);

        CallResult result = await CallAsync(stub, """{"method_name": "add", "method_args": [1, 2, 3]}""");

        result.Value.ShouldBe(6.0);
    }

    [Test]
    public async Task Arguments_bind_by_name_in_any_order()
    {
        var stub = new ServerStub(LongTimeout);
        stub.Register("subtract", (double a, double b) => a - b);

        CallResult result = await CallAsync(stub, """{"method_name": "subtract", "method_kwargs": {"b": 1, "a": 10}}""");

        result.Value.ShouldBe(9.0);
    }

    [Test]
    public async Task Missing_optional_argument_takes_its_default_and_a_given_one_overrides_it()
    {
        var stub = new ServerStub(LongTimeout);
        stub.Register("add", (double a, double b, double c = 10) => a + b + c);

        CallResult withDefault = await CallAsync(stub, """{"method_name": "add", "method_args": [1, 2], "method_kwargs": {}}""");
        CallResult overridden = await CallAsync(stub, """{"method_name": "add", "method_args": [1], "method_kwargs": {"b": 2, "c": 5}}""");

        withDefault.Value.ShouldBe(13.0);
        overridden.Value.ShouldBe(8.0);
    }

    [Test]
    public async Task Unknown_method_is_MethodNotFound()
    {
        var stub = new ServerStub(LongTimeout);

        CallResult result = await CallAsync(stub, """{"method_name": "launch_rockets"}""");

        result.ErrorCode.ShouldBe(RpcErrorCode.MethodNotFound);
        result.ErrorMessage!.ShouldContain("launch_rockets");
    }

    [TestCase("""{"method_name": "f", "method_args": [1]}""", "missing required argument 'b'")]
    [TestCase("""{"method_name": "f", "method_args": [1, 2, 3]}""", "at most 2 argument(s), 3 given")]
    [TestCase("""{"method_name": "f", "method_args": [1, 2], "method_kwargs": {"z": 1}}""", "unexpected keyword argument 'z'")]
    [TestCase("""{"method_name": "f", "method_args": [1, 2], "method_kwargs": {"a": 1}}""", "multiple values for argument 'a'")]
    [TestCase("""{"method_name": "f", "method_args": ["abc", 2]}""", "argument 'a' must be a number, not a string")]
    [TestCase("""{"method_name": "f", "method_args": [null, 2]}""", "argument 'a' must be a number, not null")]
    public async Task Call_that_does_not_bind_is_InvalidArguments_and_the_method_never_runs(string request, string expectedMessage)
    {
        var stub = new ServerStub(LongTimeout);
        int runs = 0;
        stub.Register("f", (double a, double b) => ++runs + a + b);

        CallResult result = await CallAsync(stub, request);

        result.ErrorCode.ShouldBe(RpcErrorCode.InvalidArguments);
        result.ErrorMessage!.ShouldContain(expectedMessage);
        runs.ShouldBe(0);
    }

    [Test]
    public async Task Whole_number_parameter_refuses_a_fraction()
    {
        var stub = new ServerStub(LongTimeout);
        stub.Register("repeat", (string text, int times) => string.Concat(Enumerable.Repeat(text, times)));

        CallResult ok = await CallAsync(stub, """{"method_name": "repeat", "method_args": ["ab", 2]}""");
        CallResult fraction = await CallAsync(stub, """{"method_name": "repeat", "method_args": ["ab", 1.5]}""");

        ok.Value.ShouldBe("abab");
        fraction.ErrorCode.ShouldBe(RpcErrorCode.InvalidArguments);
    }

    [Test]
    public async Task Exception_thrown_inside_the_method_is_MethodFailed_even_an_ArgumentException()
    {
        var stub = new ServerStub(LongTimeout);
        stub.Register("picky", (double x) => x > 0 ? x : throw new ArgumentOutOfRangeException(nameof(x), "x must be positive"));

        CallResult result = await CallAsync(stub, """{"method_name": "picky", "method_args": [-1]}""");

        result.ErrorCode.ShouldBe(RpcErrorCode.MethodFailed);
        result.ErrorMessage!.ShouldContain("x must be positive");
    }

    [Test]
    public async Task Exception_thrown_by_an_async_method_is_MethodFailed()
    {
        var stub = new ServerStub(LongTimeout);
        stub.Register("fail_later", async () =>
        {
            await Task.Yield();
            throw new InvalidOperationException("broken after a yield");
        });

        CallResult result = await CallAsync(stub, """{"method_name": "fail_later"}""");

        result.ErrorCode.ShouldBe(RpcErrorCode.MethodFailed);
        result.ErrorMessage.ShouldBe("broken after a yield");
    }

    [Test]
    public async Task Task_and_ValueTask_results_are_awaited()
    {
        var stub = new ServerStub(LongTimeout);
        stub.Register("task", async (double x) => { await Task.Yield(); return x * 2; });
        stub.Register("value_task", (double x) => new ValueTask<double>(x * 3));
        stub.Register("plain_task", () => Task.CompletedTask);

        (await CallAsync(stub, """{"method_name": "task", "method_args": [2]}""")).Value.ShouldBe(4.0);
        (await CallAsync(stub, """{"method_name": "value_task", "method_args": [2]}""")).Value.ShouldBe(6.0);
        CallResult plain = await CallAsync(stub, """{"method_name": "plain_task"}""");
        plain.IsSuccess.ShouldBeTrue();
        plain.Value.ShouldBeNull();
    }

    [Test]
    public async Task Method_past_the_method_timeout_is_MethodTimeout_and_its_token_fires()
    {
        var stub = new ServerStub(TimeSpan.FromSeconds(0.2));
        var tokenFired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        stub.Register("wait_forever", async (CancellationToken cancellationToken) =>
        {
            // The method itself sees its token fire. Not a callback registered with `using`: Cancel()
            // runs the token's callbacks newest first, so Task.Delay's wakes this method on a worker
            // thread, which leaves the using block and unregisters the older callback before Cancel()
            // reaches it. Then the callback never runs although the token did fire.
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                tokenFired.TrySetResult();
                throw;
            }
        });

        CallResult result = await CallAsync(stub, """{"method_name": "wait_forever"}""");

        result.ErrorCode.ShouldBe(RpcErrorCode.MethodTimeout);
        result.ErrorMessage!.ShouldContain("0.2 s");
        await tokenFired.Task.WaitAsync(TestTimeouts.Unexpected);
    }

    [Test]
    public async Task Method_that_ignores_its_token_still_gets_a_prompt_MethodTimeout_reply()
    {
        var stub = new ServerStub(TimeSpan.FromSeconds(0.2));
        var release = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        stub.Register("stubborn", () => release.Task);

        CallResult result = await CallAsync(stub, """{"method_name": "stubborn"}""");
        release.SetResult(1);

        result.ErrorCode.ShouldBe(RpcErrorCode.MethodTimeout);
    }

    [Test]
    public async Task Only_a_method_that_ignored_its_token_is_reported_when_it_finally_ends()
    {
        using var log = new LogRecorder();
        using ILoggerFactory loggerFactory = log.CreateFactory();
        var stub = new ServerStub(TimeSpan.FromSeconds(0.2), loggerFactory.CreateLogger<ServerStub>());
        var release = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        stub.Register("stubborn", () => release.Task);
        stub.Register("polite", (CancellationToken cancellationToken) => Task.Delay(Timeout.Infinite, cancellationToken));

        CallResult polite = await CallAsync(stub, """{"method_name": "polite"}""");
        await log.WaitForAsync(LogLevel.Debug, "polite() stopped after its timeout");
        CallResult stubborn = await CallAsync(stub, """{"method_name": "stubborn"}""");
        release.SetResult(1);
        await log.WaitForAsync(LogLevel.Warning, "stubborn() ended after");

        polite.ErrorCode.ShouldBe(RpcErrorCode.MethodTimeout);
        stubborn.ErrorCode.ShouldBe(RpcErrorCode.MethodTimeout);
        log.Count(LogLevel.Warning, "polite()").ShouldBe(0);
    }

    [Test]
    public async Task All_your_methods_lists_required_and_optional_parameters_without_the_token()
    {
        var stub = new ServerStub(LongTimeout);
        stub.Register("add", (double a, double b, double c = 10) => a + b + c);
        stub.Register("nap", (double seconds, CancellationToken cancellationToken) => Task.Delay(TimeSpan.FromSeconds(seconds), cancellationToken));

        CallResult result = await CallAsync(stub, """{"method_name": "all_your_methods"}""");
        string json = JsonSerializer.Serialize(result.Value, Lab.Protocol.ProtocolJson.Options);

        json.ShouldBe("""[{"method_name":"add","method_args":["a","b"],"method_kwargs":{"c":10}},{"method_name":"nap","method_args":["seconds"],"method_kwargs":{}}]""");
    }

    [Test]
    public async Task Registering_a_taken_or_reserved_name_is_refused()
    {
        var stub = new ServerStub(LongTimeout);
        stub.Register("add", (double a, double b) => a + b);

        Should.Throw<ArgumentException>(() => stub.Register("add", (double a) => a));
        Should.Throw<ArgumentException>(() => stub.Register("all_your_methods", () => 1));
        CallResult listing = await CallAsync(stub, """{"method_name": "all_your_methods"}""");
        ((IEnumerable<MethodDescription>)listing.Value!).Select(method => method.MethodName).ShouldBe(["add"]);
    }

    private static async Task<CallResult> CallAsync(ServerStub stub, string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return await stub.DispatchAsync(RpcRequest.Parse(document.RootElement));
    }
}
