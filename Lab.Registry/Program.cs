// Lab.Registry: the registry center program (the lab's registry main). Wiring only: the command line,
// configuration and logging go in, RegistryApp builds the service, the host runs it until Ctrl+C or SIGTERM.
using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using Lab.Hosting;
using Lab.Protocol.Settings;
using Lab.Protocol;
using Lab.Registry;

var hostOption = new Option<string?>("--host", "-l")
{
    Description = "Listen address, IPv4 or IPv6 (default: [registry] host in config.ini, 127.0.0.1)",
    HelpName = "ADDRESS",
};
var portOption = new Option<int?>("--port", "-p")
{
    Description = "HTTP port to listen on (0 = any free port; default: [registry] port in config.ini, else 9999)",
    HelpName = "PORT",
};
Option<string?> configOption = LabCommandLine.CreateConfigOption();

var rootCommand = new RootCommand("RpcLab registry center: servers register and heartbeat here, clients discover them.")
{
    hostOption,
    portOption,
    configOption,
};

rootCommand.SetAction((parseResult, _) => LabCommandLine.RunFatalSafeAsync("Lab.Registry", async () =>
{
    var overrides = new Dictionary<string, string?>
    {
        ["registry:host"] = parseResult.GetValue(hostOption),
        ["registry:port"] = parseResult.GetValue(portOption)?.ToString(CultureInfo.InvariantCulture),
    };
    LabConfiguration configuration = LabConfiguration.Load(parseResult.GetValue(configOption), overrides);

    RegistrySettings settings = SettingsReader.ReadRegistry(configuration);
    await using var app = RegistryApp.Build(settings, SettingsReader.ReadLogging(configuration));
    try
    {
        // Returns when the host's console lifetime sees Ctrl+C or SIGTERM and has stopped Kestrel and
        // the health checker; a bind failure throws out of it into RunFatalSafeAsync's one-line error.
        await app.RunAsync();
    }
    catch (SocketException ex)
    {
        // "Cannot assign requested address" alone does not say which address; name it.
        throw new IOException($"cannot listen on {settings.BaseUri.GetLeftPart(UriPartial.Authority)}: {ex.Message}", ex);
    }

    return 0;
}));

// The host handles Ctrl+C/SIGTERM itself (graceful stop, exit 0); System.CommandLine must not race it.
return await rootCommand.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
