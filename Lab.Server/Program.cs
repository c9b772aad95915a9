// Lab.Server: the RPC server program. Wiring only — command line, configuration, logging and the
// Generic Host, which runs RpcServer and stops it gracefully on Ctrl+C or SIGTERM.
//
//   dotnet run --project Lab.Server -- -p 8089                 listen on 0.0.0.0:8089
//   dotnet run --project Lab.Server -- -p 8089 -l ::1          IPv6 loopback
//   dotnet run --project Lab.Server -- -p 0 --config test.ini  free port, another configuration file
using System.CommandLine;
using System.Globalization;
using Lab.Discovery.Etcd;
using Lab.Hosting;
using Lab.Protocol.Discovery;
using Lab.Protocol.Settings;
using Lab.Protocol;
using Lab.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var hostOption = new Option<string?>("--host", "-l")
{
    Description = "Listen address, IPv4 or IPv6 (default from config.ini, else 0.0.0.0; :: for IPv6)",
    HelpName = "ADDRESS",
};
var portOption = new Option<int>("--port", "-p") { Description = "Listen port (0 picks a free port)", HelpName = "PORT", Required = true };
var advertiseOption = new Option<string?>("--advertise-host")
{
    Description = "Address registered with the registry when listening on 0.0.0.0 or :: (default: this machine's address)",
    HelpName = "ADDRESS",
};
Option<string?> configOption = LabCommandLine.CreateConfigOption();

var rootCommand = new RootCommand("RpcLab server: offers the lab's ten methods over TCP + JSON and registers with the registry center.");
rootCommand.Options.Add(hostOption);
rootCommand.Options.Add(portOption);
rootCommand.Options.Add(advertiseOption);
rootCommand.Options.Add(configOption);
rootCommand.SetAction(parseResult => LabCommandLine.RunFatalSafeAsync("Lab.Server", async () =>
{
    LabConfiguration configuration = LabConfiguration.Load(parseResult.GetValue(configOption), new Dictionary<string, string?>
    {
        [$"{ServerSettings.SectionName}:host"] = parseResult.GetValue(hostOption),
        [$"{ServerSettings.SectionName}:port"] = parseResult.GetValue(portOption).ToString(CultureInfo.InvariantCulture),
        [$"{ServerSettings.SectionName}:advertise_host"] = parseResult.GetValue(advertiseOption),
    });
    ServerSettings server = SettingsReader.ReadServer(configuration);
    RegistrySettings registry = SettingsReader.ReadRegistry(configuration);
    LogSettings logging = SettingsReader.ReadLogging(configuration);

    HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
    builder.Logging.AddLabLogging(logging);
    // A failed start is reported once, as the one-line fatal error, not also as a host error log.
    builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
    builder.Services.Configure<ConsoleLifetimeOptions>(options => options.SuppressStatusMessages = true);
    // The host must wait for our own deadlines (unregister, drain) rather than cut the stop short.
    builder.Services.Configure<HostOptions>(options =>
        options.ShutdownTimeout = server.DrainTimeout + server.RegistryTimeout + TimeSpan.FromSeconds(5));
    builder.Services.AddSingleton(services =>
    {
        var loggerFactory = services.GetRequiredService<ILoggerFactory>();
        // The one place the server program chooses who keeps the list of servers ([registry] backend).
        IServiceRegistration registration = registry.Backend == RegistryBackend.Etcd
            ? new EtcdRegistration(registry, server, loggerFactory.CreateLogger<EtcdRegistration>())
            : new RegistryClient(registry, server, loggerFactory.CreateLogger<RegistryClient>());
        return new RpcServer(server, registration, loggerFactory, services.GetRequiredService<IHostApplicationLifetime>());
    });
    builder.Services.AddHostedService(services => services.GetRequiredService<RpcServer>());

    using IHost host = builder.Build();
    // Resolved before running: RunAsync disposes the host (and its services) when it returns.
    RpcServer rpcServer = host.Services.GetRequiredService<RpcServer>();
    await host.RunAsync().ConfigureAwait(false);
    // A server that stopped itself on a fault (passive shutdown) says so with its exit code.
    return rpcServer.Faulted ? LabCommandLine.FatalErrorExitCode : 0;
}));

// The Generic Host handles Ctrl+C and SIGTERM (a graceful stop); System.CommandLine must not race it.
return await rootCommand.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
