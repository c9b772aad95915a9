using System.Globalization;
using System.Text.Json;
using Lab.Client;
using Lab.Discovery.Etcd;
using Lab.Hosting;
using Lab.Protocol.Discovery;
using Lab.Protocol.Settings;
using Microsoft.Extensions.Logging;

namespace Lab.ClientApp;

/// <summary>The client program behind <c>Program.cs</c>: reads the configuration (file, then flags on top),
/// builds the <see cref="RpcClient"/> for the chosen mode, and runs one of the three uses — one call,
/// the demo, or the duration load. Results go to standard output as plain lines; logs go through
/// <see cref="LabLogging"/>.</summary>
public static class ClientProgram
{
    /// <summary>Runs the use <paramref name="options"/> asks for. <paramref name="cancellationToken"/> is Ctrl+C:
    /// a <c>--duration</c> run then stops and still prints its summary (exit code 0, or 1 if a call failed);
    /// one call or the demo stops at once with "interrupted" and <see cref="LabCommandLine.InterruptedExitCode"/>.</summary>
    /// <exception cref="ConfigurationException">A bad file or flag, or server mode without a host and port.</exception>
    public static async Task<int> RunAsync(
        ClientOptions options,
        TextWriter output,
        TextWriter error,
        ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default,
        TextReader? phaseMarks = null)
    {
        LabConfiguration configuration = LabConfiguration.Load(options.ConfigPath, Overrides(options));
        ClientSettings settings = SettingsReader.ReadClient(configuration);
        RegistrySettings registry = SettingsReader.ReadRegistry(configuration);
        Validate(options, settings);

        ILoggerFactory? ownedFactory = loggerFactory is null ? LabLogging.CreateFactory(SettingsReader.ReadLogging(configuration)) : null;
        try
        {
            ILoggerFactory logging = loggerFactory ?? ownedFactory!;
            await using RpcClient client = settings.Mode == ClientMode.Server
                ? RpcClient.Direct(settings.Host, settings.Port, settings, logging)
                : await RpcClient.ConnectAsync(ChooseDiscovery(registry, settings, logging), settings, logging, cancellationToken: cancellationToken);

            if (options.Call is { Count: > 0 } call)
                return await RunOneCallAsync(client, call, output, error, cancellationToken);

            if (options.DurationSeconds is { } seconds)
                return await new DurationRun(client, TimeSpan.FromSeconds(seconds), options.Concurrency, output, error, phaseMarks)
                {
                    Interval = TimeSpan.FromMilliseconds(options.IntervalMilliseconds ?? 0),
                }.RunAsync(cancellationToken);

            return await new DemoRun(client, output, error).RunAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl+C before there was anything to report: during discovery, one call or the demo.
            await error.WriteLineAsync("interrupted (Ctrl+C or SIGTERM)");
            return LabCommandLine.InterruptedExitCode;
        }
        finally
        {
            // Disposing the factory flushes the console logger's queue, so no log line is lost at exit.
            ownedFactory?.Dispose();
        }
    }

    // Lab.ClientApp add 1 2: one call, its result and the server that answered on standard output
    // (add(1, 2) = 13  [server 127.0.0.1:8089]), or the error on standard error and exit code 1.
    private static async Task<int> RunOneCallAsync(RpcClient client, IReadOnlyList<string> call, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        object?[] args = call.Skip(1).Select(CallText.ParseArgument).ToArray();
        string text = CallText.Call(call[0], args);
        try
        {
            RpcCallResult<JsonElement> result = await client.CallDetailedAsync<JsonElement>(call[0], args, cancellationToken: cancellationToken);
            await output.WriteLineAsync($"{text} = {CallText.Value(result.Value)}  [server {result.Server}]");
            return 0;
        }
        catch (RpcException ex)
        {
            await error.WriteLineAsync($"{text} failed: {CallText.Failure(ex)}");
            return 1;
        }
    }

    // The one place the client program chooses who keeps the list of servers: the lab's registry
    // center, or etcd ([registry] backend). The library's classes only see IServiceDiscovery.
    private static IServiceDiscovery ChooseDiscovery(RegistrySettings registry, ClientSettings settings, ILoggerFactory logging) =>
        registry.Backend == RegistryBackend.Etcd
            ? new EtcdDiscovery(registry, settings, logging.CreateLogger<EtcdDiscovery>())
            : new RegistryClient(registry, settings, logging.CreateLogger<RegistryClient>());

    private static Dictionary<string, string?> Overrides(ClientOptions options) => new()
    {
        ["client:mode"] = options.Mode,
        ["client:host"] = options.Host,
        ["client:port"] = options.Port?.ToString(CultureInfo.InvariantCulture),
    };

    private static void Validate(ClientOptions options, ClientSettings settings)
    {
        if (settings.Mode == ClientMode.Server && (settings.Host.Length == 0 || settings.Port == 0))
            throw new ConfigurationException("server mode needs the server's address: give -i/--host and -p/--port (e.g. -m server -i 127.0.0.1 -p 8089)");

        if (options.DurationSeconds is { } seconds && !(seconds > 0 && seconds <= TimeSpan.FromDays(1).TotalSeconds))
            throw new ConfigurationException($"--duration must be a positive number of seconds, not {seconds.ToString(CultureInfo.InvariantCulture)}");

        if (options.Concurrency < 1)
            throw new ConfigurationException($"--concurrency must be at least 1, not {options.Concurrency}");

        if (options.IntervalMilliseconds is { } interval && !(interval >= 0 && interval <= TimeSpan.FromMinutes(1).TotalMilliseconds))
            throw new ConfigurationException($"--interval must be between 0 and 60000 milliseconds, not {interval.ToString(CultureInfo.InvariantCulture)}");

        if (options.IntervalMilliseconds is not null && options.DurationSeconds is null)
            throw new ConfigurationException("--interval paces a --duration run: give --duration too");

        if (options.DurationSeconds is not null && options.Call is { Count: > 0 })
            throw new ConfigurationException("give either --duration or a METHOD to call, not both");
    }
}
