using System.Net;
using System.Text.Json;
using Lab.Protocol.Configuration;
using Lab.Protocol.Discovery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Client.Support;

/// <summary>
/// A registry center reduced to discovery: a real Kestrel app serving
/// <c>GET /myRegistry/findAllInstances?proto=json</c> (SPEC §4) with the instances the test sets.
/// The test can stop it (the port then refuses connections, like a crashed registry) and restart
/// it on the same port.
/// </summary>
public sealed class FakeRegistry : IAsyncDisposable
{
    private readonly ChangeSignal _changed = new();
    private readonly Lock _gate = new();
    private List<InstanceMeta> _instances = [];
    private WebApplication? _app;
    private int _requests;
    private TaskCompletionSource _answer = CompletedAnswer();

    private FakeRegistry()
    {
    }

    public int Port { get; private set; }

    /// <summary>The registry settings a client uses to find this registry.</summary>
    public RegistrySettings Settings => new() { Host = "127.0.0.1", Port = Port };

    /// <summary>Discovery requests received so far.</summary>
    public int Requests => Volatile.Read(ref _requests);

    public bool IsRunning => _app is not null;

    public static async Task<FakeRegistry> StartAsync()
    {
        var registry = new FakeRegistry();
        await registry.StartOnPortAsync(0);
        return registry;
    }

    /// <summary>What the registry lists from now on; each entry's <c>weight</c> goes into <c>parameters</c>.</summary>
    public void SetInstances(params (string Host, int Port, double? Weight)[] instances)
    {
        List<InstanceMeta> list = instances.Select(instance =>
        {
            var meta = new InstanceMeta { Host = instance.Host, Port = instance.Port };
            if (instance.Weight is { } weight)
            {
                meta.Parameters[InstanceMeta.WeightParameter] = JsonSerializer.SerializeToElement(weight);
            }

            return meta;
        }).ToList();
        lock (_gate)
        {
            _instances = list;
        }
    }

    public void SetServers(params TestRpcServer[] servers) =>
        SetInstances([.. servers.Select(server => (server.Host, server.Port, (double?)null))]);

    /// <summary>From now on requests get no answer (a hung registry) until <see cref="AnswerAgain"/>.</summary>
    public void Hang() => Volatile.Write(ref _answer, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public void AnswerAgain() => Volatile.Read(ref _answer).TrySetResult();

    public Task WaitUntilAsync(Func<FakeRegistry, bool> condition, string what) =>
        _changed.WaitUntilAsync(() => condition(this), what);

    /// <summary>Stops listening: connections to the port are refused until <see cref="RestartAsync"/>.</summary>
    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            // Kestrel's stop waits for requests in flight; a hung one would hold it for its whole grace period.
            AnswerAgain();
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>Starts again on the same port, as a restarted registry would.</summary>
    public Task RestartAsync() => StartOnPortAsync(Port);

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task StartOnPortAsync(int port)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, port));
        WebApplication app = builder.Build();
        app.MapGet("/myRegistry/findAllInstances", async (string? proto) =>
        {
            Interlocked.Increment(ref _requests);
            _changed.Notify();
            await Volatile.Read(ref _answer).Task;
            List<InstanceMeta> instances;
            lock (_gate)
            {
                instances = _instances;
            }

            return Results.Json(instances.Where(instance => instance.Protocol == proto).ToList());
        });
        await app.StartAsync();
        Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        _app = app;
    }

    private static TaskCompletionSource CompletedAnswer()
    {
        var answered = new TaskCompletionSource();
        answered.SetResult();
        return answered;
    }
}
