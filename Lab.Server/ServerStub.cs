using System.Diagnostics;
using System.Text.Json.Serialization;
using Lab.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lab.Server;

/// <summary>Mirrors the lab's <c>ServerStub</c>: the table of methods a server offers, by wire name. Its one
/// job is to turn a parsed request into a <see cref="CallResult"/> — find the method, bind the
/// arguments, run it under the method timeout — and to answer the discovery call
/// <c>all_your_methods</c>. It knows nothing about sockets; <see cref="TcpServer"/> does.</summary>
/// <remarks><para>
/// Errors are classified honestly (lab requirements §3): an unknown name is MethodNotFound; a call that does not
/// bind (missing, extra, duplicate or wrongly typed argument) is InvalidArguments and the method never
/// runs; anything the method throws — even an ArgumentException — is MethodFailed; running past the
/// method timeout is MethodTimeout, and the method's CancellationToken is cancelled; a call beyond
/// <c>max_concurrent_calls</c> is ServerBusy and never runs.</para>
/// <para>Concurrency: register every method before the server starts; after that the table is only read,
/// so <see cref="DispatchAsync"/> may be called from any number of connections at once without a lock.</para>
/// <example><code>
/// var stub = new ServerStub(TimeSpan.FromSeconds(30));
/// stub.Register("add", (double a, double b, double c = 10) => a + b + c);
/// CallResult result = await stub.DispatchAsync(RpcRequest.Parse(document.RootElement), token);
/// </code></example></remarks>
public sealed class ServerStub(TimeSpan methodTimeout, ILogger<ServerStub>? logger = null, int maxConcurrentCalls = 1000)
{
    private readonly CallSlots _slots = new(maxConcurrentCalls);
    private readonly Dictionary<string, MethodBinding> _methods = new(StringComparer.Ordinal);
    private readonly ILogger _logger = logger ?? NullLogger<ServerStub>.Instance;

    /// <summary>Registers <paramref name="method"/> under <paramref name="wireName"/>. Its parameter names are
    /// the keyword names callers use; a <see cref="CancellationToken"/> parameter receives the
    /// method-timeout token; Task/ValueTask results are awaited.</summary>
    /// <exception cref="ArgumentException">The name is taken or reserved, or a parameter cannot be bound from JSON.</exception>
    public void Register(string wireName, Delegate method)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(wireName);
        if (wireName == RpcRequest.DiscoveryMethodName)
            throw new ArgumentException($"'{wireName}' is reserved for discovery", nameof(wireName));
        if (!_methods.TryAdd(wireName, new MethodBinding(wireName, method)))
            throw new ArgumentException($"a method named '{wireName}' is already registered", nameof(wireName));
    }

    /// <summary>User methods running now (those past their deadline included), for the stop's log.</summary>
    public IReadOnlyList<string> RunningMethods => _slots.DescribeRunning();

    /// <summary>Runs one request. Never throws for anything the request or the method did; the outcome is in the
    /// result, at the method timeout at the latest, whatever the method does.</summary>
    /// <param name="request">The parsed request. The method gets copies of its arguments, so the caller may
    /// reuse the request's memory as soon as this returns.</param>
    /// <param name="cancellationToken">Cancelled when the server gives up on in-flight calls (end of the drain deadline).</param>
    public async Task<CallResult> DispatchAsync(RpcRequest request, CancellationToken cancellationToken = default)
    {
        if (request.MethodName == RpcRequest.DiscoveryMethodName)
            return CallResult.Success(Describe());
        if (!_methods.TryGetValue(request.MethodName, out MethodBinding? method))
            return CallResult.Failure(RpcErrorCode.MethodNotFound, $"no method named '{request.MethodName}'");

        // Disposed when the caller has its answer: by then the method has ended or its token is cancelled,
        // and a cancelled token stays cancelled.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        object?[] arguments;
        try
        {
            arguments = method.Bind(request.Args, request.Kwargs, timeout.Token);
        }
        catch (ArgumentBindingException ex)
        {
            return CallResult.Failure(RpcErrorCode.InvalidArguments, ex.Message);
        }

        // How a method is answered at its deadline, whatever it does. A user method may block its thread, and
        // .NET cannot take a thread back, so the method runs on a method thread of its own (CallSlots), never
        // on a thread the server's sockets need, with its own copies of its arguments (MethodBinding.Bind).
        // Here the call waits for the method's task up to method_timeout: at the deadline the caller gets
        // MethodTimeout and its connection reads the next request, while the method's token is cancelled (a
        // cooperative method stops) and its thread runs on, holding its max_concurrent_calls slot, until the
        // method really returns. The end of a stop's drain deadline (cancellationToken) ends the wait the same way.
        if (!_slots.TryStart(request.MethodName, () => method.InvokeAsync(arguments), out Task<object?>? running, out string? refusal))
        {
            return CallResult.Failure(RpcErrorCode.ServerBusy, $"the server is busy: {refusal}; try again later");
        }

        long started = Stopwatch.GetTimestamp();
        timeout.CancelAfter(methodTimeout);
        try
        {
            return CallResult.Success(await running.WaitAsync(timeout.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _logger.LogWarning("{Method}() abandoned: still running when the server's drain deadline passed", request.MethodName);
            ObserveAbandoned(request.MethodName, running, started, "it was abandoned at the drain deadline");
            return Stopping(request.MethodName);
        }
        // Timed out: the method ended cancelled by its own token, or is still running.
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            ObserveAbandoned(request.MethodName, running, started, "its caller had a MethodTimeout reply");
            return MethodTimedOut(request.MethodName);
        }
        catch (Exception ex)
        {
            // Inside the method: MethodFailed whatever the exception type — it is the method's own
            // failure, not the caller's (binding errors were classified above as argument errors).
            _logger.LogDebug(ex, "{Method}() threw", request.MethodName);
            return CallResult.Failure(RpcErrorCode.MethodFailed, ex.Message);
        }
    }

    /// <summary>The reply to a call whose method ran past the method timeout.</summary>
    private CallResult MethodTimedOut(string methodName) => CallResult.Failure(RpcErrorCode.MethodTimeout,
        $"{methodName}() did not finish within the method timeout of {methodTimeout.TotalSeconds:0.###} s");

    /// <summary>The reply to a call still running when the server's drain deadline passed.</summary>
    private static CallResult Stopping(string methodName) =>
        CallResult.Failure(RpcErrorCode.MethodFailed, $"{methodName}() was cancelled: the server is stopping");

    // The caller already has its reply. How the method ends is only known later: a cooperative one ends
    // cancelled moments later; one that blocks or ignores its token runs on (its thread and slot with it)
    // and is reported when it finally ends. Either way its outcome is observed, so it is never an
    // unobserved exception.
    private void ObserveAbandoned(string methodName, Task<object?> running, long started, string why) =>
        _ = running.ContinueWith(
            task =>
            {
                if (task.IsCanceled)
                    _logger.LogDebug("{Method}() stopped after its timeout: it honoured its cancellation token", methodName);
                else
                    _logger.LogWarning(task.Exception?.GetBaseException(), "{Method}() ended after {Seconds:0.0} s, past its method timeout of {Timeout:0.###} s; {Why}",
                        methodName, Stopwatch.GetElapsedTime(started).TotalSeconds, methodTimeout.TotalSeconds, why);
            },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    // The all_your_methods answer: each method's name, required parameters and optional
    // parameters with their defaults, sorted by name so the listing is stable.
    private List<MethodDescription> Describe() =>
        _methods.Values
            .OrderBy(method => method.WireName, StringComparer.Ordinal)
            .Select(method => new MethodDescription(
                method.WireName,
                method.Parameters.Where(p => !p.HasDefault).Select(p => p.Name).ToList(),
                method.Parameters.Where(p => p.HasDefault).ToDictionary(p => p.Name, p => p.DefaultValue)))
            .ToList();
}

/// <summary>One entry of the <c>all_your_methods</c> reply (lab requirements §3):
/// <c>{"method_name": "add", "method_args": ["a", "b"], "method_kwargs": {"c": 10}}</c> —
/// the required parameter names, then the optional ones with their defaults.</summary>
public sealed record MethodDescription(
    [property: JsonPropertyName("method_name")] string MethodName,
    [property: JsonPropertyName("method_args")] IReadOnlyList<string> MethodArgs,
    [property: JsonPropertyName("method_kwargs")] IReadOnlyDictionary<string, object?> MethodKwargs);
