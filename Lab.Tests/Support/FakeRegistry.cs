using System.Net;
using System.Text;
using System.Text.Json;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Support;

/// <summary>
/// A minimal registry center (lab requirements §4: register, unregister, findAllInstances) on a real Kestrel
/// socket, for the server and client tests. Unlike the real <c>RegistryApp</c>, a test can make it
/// hang (no answer), count discovery requests, and set what it lists directly. It can stop (the port
/// then refuses connections, like a crashed registry) and start again on the same port — empty, as a
/// fresh process, or with its list, as a restarted one. Every wait is on an event, never a sleep.
/// <code>
/// await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
/// registry.SetInstances(("127.0.0.1", 8001, null));
/// await registry.WaitUntilAsync(r => r.Requests >= 1, "a discovery request");
/// </code>
/// </summary>
/// <remarks>Concurrency: requests arrive on Kestrel threads; <see cref="_gate"/> guards the instance and event lists.</remarks>
public sealed class FakeRegistry : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly ChangeSignal _changed = new();
    private readonly List<InstanceMeta> _instances = [];
    private readonly List<string> _events = [];
    private WebApplication? _app;
    private int _requests;
    private TaskCompletionSource _answer = CompletedAnswer();
    private Func<HttpResponse, CancellationToken, Task>? _rawAnswer;

    private FakeRegistry(int port) => Port = port;

    public int Port { get; private set; }

    /// <summary>The registry settings a program uses to find this registry.</summary>
    public RegistrySettings Settings => new() { Host = "127.0.0.1", Port = Port };

    /// <summary>Every register and unregister so far, in order: "register json://127.0.0.1:5000", "unregister ...".</summary>
    public IReadOnlyList<string> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>What the registry lists now, in the order registered (or set).</summary>
    public IReadOnlyList<InstanceMeta> Instances
    {
        get
        {
            lock (_gate)
            {
                return [.. _instances];
            }
        }
    }

    /// <summary>Discovery (findAllInstances) requests received so far.</summary>
    public int Requests => Volatile.Read(ref _requests);

    public bool Contains(string instance) => Instances.Any(meta => meta.ToString() == instance);

    public int CountEvents(string prefix) => Events.Count(e => e.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>Starts a registry on a free loopback port.</summary>
    public static async Task<FakeRegistry> StartNewAsync()
    {
        var registry = new FakeRegistry(0);
        await registry.StartOnPortAsync(0);
        return registry;
    }

    /// <summary>A registry that is not running yet, for a port nobody listens on (the outage case).</summary>
    public static FakeRegistry NotStarted() => new(FreePort());

    /// <summary>Starts on <see cref="Port"/> with an empty list, as a freshly started registry process would.</summary>
    public Task StartAsync()
    {
        lock (_gate)
        {
            _instances.Clear();
        }

        return StartOnPortAsync(Port);
    }

    /// <summary>Starts again on <see cref="Port"/> listing what it had (or was given while down).</summary>
    public Task RestartAsync() => StartOnPortAsync(Port);

    /// <summary>Stops listening: connections to the port are refused until it starts again.</summary>
    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            // Kestrel's stop waits for requests in flight; a hung one would hold it for its whole grace period.
            AnswerAgain();
            _app = null;
            await app.StopAsync(TestTimeouts.UnexpectedToken());
            await app.DisposeAsync();
        }
    }

    /// <summary>What the registry lists from now on; each entry's <c>weight</c> goes into <c>parameters</c>.</summary>
    public void SetInstances(params (string Host, int Port, double? Weight)[] instances)
    {
        List<InstanceMeta> list = [.. instances.Select(instance =>
        {
            var meta = new InstanceMeta { Host = instance.Host, Port = instance.Port };
            if (instance.Weight is { } weight)
            {
                meta.Parameters["weight"] = JsonSerializer.SerializeToElement(weight);
            }

            return meta;
        })];
        lock (_gate)
        {
            _instances.Clear();
            _instances.AddRange(list);
        }
    }

    /// <summary>From now on discovery requests get no answer (a hung registry) until <see cref="AnswerAgain"/>.</summary>
    public void Hang() => Volatile.Write(ref _answer, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public void AnswerAgain() => Volatile.Read(ref _answer).TrySetResult();

    /// <summary>From now on discovery is answered by <paramref name="answer"/>, which writes the status and body
    /// itself (a broken or hostile registry: an endless body, a huge error, entries no client can read);
    /// null goes back to the list.</summary>
    public void AnswerRaw(Func<HttpResponse, CancellationToken, Task>? answer) => Volatile.Write(ref _rawAnswer, answer);

    /// <summary>An answer for <see cref="AnswerRaw"/>: <paramref name="status"/> and exactly <paramref name="body"/>.</summary>
    public static Func<HttpResponse, CancellationToken, Task> Bytes(int status, byte[] body) => async (response, cancellationToken) =>
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, cancellationToken);
    };

    /// <summary>An answer for <see cref="AnswerRaw"/>: a JSON array that never ends, until the client hangs up.</summary>
    public static async Task EndlessAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        response.ContentType = "application/json";
        byte[] entry = Encoding.UTF8.GetBytes("{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": 1, \"parameters\": {\"x\": \"" + new string('a', 60_000) + "\"}},");
        await response.Body.WriteAsync("["u8.ToArray(), cancellationToken);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await response.Body.WriteAsync(entry, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The client stopped reading and closed: the end of an endless answer.
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds, re-checking it after each request.</summary>
    public async Task WaitUntilAsync(Func<FakeRegistry, bool> condition, string what)
    {
        try
        {
            await _changed.WaitUntilAsync(() => condition(this), what);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; the registry saw {Requests} discovery request(s) and: {string.Join(", ", Events)}", ex);
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>A loopback port that was free a moment ago (nothing listens on it now).</summary>
    public static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private async Task StartOnPortAsync(int port)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, port));
        WebApplication app = builder.Build();
        app.MapPost("/myRegistry/register", (Delegate)((HttpContext context) => HandleAsync(context, "register")));
        app.MapPost("/myRegistry/unregister", (Delegate)((HttpContext context) => HandleAsync(context, "unregister")));
        app.MapGet("/myRegistry/findAllInstances", (RequestDelegate)FindAllInstancesAsync);
        await app.StartAsync(TestTimeouts.UnexpectedToken());
        Port = new Uri(app.Urls.First()).Port;
        _app = app;
    }

    private async Task FindAllInstancesAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        _changed.Notify();
        await Volatile.Read(ref _answer).Task;
        if (Volatile.Read(ref _rawAnswer) is { } raw)
        {
            await raw(context.Response, context.RequestAborted);
            return;
        }

        string? proto = context.Request.Query["proto"];
        await Results.Json(Instances.Where(instance => instance.Protocol == proto).ToList()).ExecuteAsync(context);
    }

    private async Task<IResult> HandleAsync(HttpContext context, string action)
    {
        InstanceMeta meta;
        try
        {
            using JsonDocument body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            meta = InstanceMeta.Parse(body.RootElement);
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            return Results.Json(new { error = ex.Message }, statusCode: 400);
        }

        lock (_gate)
        {
            int index = _instances.FindIndex(known => known.Key.Equals(meta.Key));
            if (action == "register" && index < 0)
            {
                _instances.Add(meta);
            }
            else if (action == "register")
            {
                _instances[index] = meta;
            }
            else if (index >= 0)
            {
                _instances.RemoveAt(index);
            }

            _events.Add($"{action} {meta}");
        }

        _changed.Notify();
        return Results.Json(meta.With(status: action == "register"));
    }

    private static TaskCompletionSource CompletedAnswer()
    {
        var answered = new TaskCompletionSource();
        answered.SetResult();
        return answered;
    }
}
