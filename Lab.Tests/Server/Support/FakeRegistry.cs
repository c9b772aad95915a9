using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Lab.Protocol.Discovery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Server.Support;

/// <summary>
/// A minimal registry center for server tests (SPEC §4: register, unregister, findAllInstances), on a
/// real Kestrel socket. A test can stop it (an outage) and start it again on the same port with an
/// empty list (a restart), and await what the server sent — no sleeps.
/// </summary>
/// <remarks>Concurrency: requests arrive on Kestrel threads; <see cref="_gate"/> guards the event list and waiters.</remarks>
internal sealed class FakeRegistry : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<InstanceKey, InstanceMeta> _instances = new();
    private readonly List<string> _events = [];
    private readonly List<(Func<bool> Condition, TaskCompletionSource Met)> _waiters = [];
    private WebApplication? _app;

    private FakeRegistry(int port) => Port = port;

    public int Port { get; private set; }

    /// <summary>Every request so far, in order: "register json://127.0.0.1:5000", "unregister ...".</summary>
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

    public IReadOnlyCollection<InstanceMeta> Instances => [.. _instances.Values];

    public bool Contains(string instance) => _instances.Values.Any(meta => meta.ToString() == instance);

    public int CountEvents(string prefix) => Events.Count(e => e.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>Starts a registry on a free loopback port.</summary>
    public static async Task<FakeRegistry> StartNewAsync()
    {
        var registry = new FakeRegistry(0);
        await registry.StartAsync(0);
        return registry;
    }

    /// <summary>A registry that is not running yet, for a port nobody listens on (the outage case).</summary>
    public static FakeRegistry NotStarted() => new(FreePort());

    /// <summary>Starts (again) on <see cref="Port"/> with an empty instance list.</summary>
    public Task StartAsync() => StartAsync(Port);

    /// <summary>Stops listening: the server sees connection refused.</summary>
    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync(TestTimeouts.UnexpectedToken());
            await _app.DisposeAsync();
            _app = null;
        }

        _instances.Clear();
    }

    /// <summary>Waits until <paramref name="condition"/> holds, re-checking it after each request.</summary>
    public async Task WaitUntilAsync(Func<FakeRegistry, bool> condition, string what)
    {
        var met = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (condition(this))
            {
                return;
            }

            _waiters.Add((() => condition(this), met));
        }

        try
        {
            await met.Task.WaitAsync(TestTimeouts.Unexpected);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the registry never saw: {what}; events: {string.Join(", ", Events)}");
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task StartAsync(int port)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, port));
        WebApplication app = builder.Build();
        app.MapPost("/myRegistry/register", (Delegate)((HttpContext context) => HandleAsync(context, "register")));
        app.MapPost("/myRegistry/unregister", (Delegate)((HttpContext context) => HandleAsync(context, "unregister")));
        app.MapGet("/myRegistry/findAllInstances", (string proto) =>
            Results.Json(_instances.Values.Where(meta => meta.Protocol == proto).ToList()));
        await app.StartAsync(TestTimeouts.UnexpectedToken());
        Port = new Uri(app.Urls.First()).Port;
        _app = app;
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

        if (action == "register")
        {
            _instances[meta.Key] = meta;
        }
        else
        {
            _instances.TryRemove(meta.Key, out _);
        }

        Record($"{action} {meta}");
        return Results.Json(meta.With(status: action == "register"));
    }

    private void Record(string @event)
    {
        lock (_gate)
        {
            _events.Add(@event);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Condition())
                {
                    _waiters[i].Met.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>A loopback port that was free a moment ago (nothing listens on it now).</summary>
    public static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
