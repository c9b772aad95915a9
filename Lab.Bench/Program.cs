using System.CommandLine;
using System.Globalization;
using System.Net;
using Lab.Bench;
using Lab.Hosting;
using Lab.Protocol;
using Lab.Testing;

// Lab.Bench: with no command, runs the whole benchmark (see docs/benchmark.md);
// `floor` runs the floor server alone; `load` points the load generator at any server.

var root = new RootCommand("RpcLab benchmark: Lab.Server against the raw-socket floor, with ratios and PASS/FAIL per goal.");
var runsOption = new Option<int>("--runs") { Description = "Runs per workload and target; figures are their median", DefaultValueFactory = _ => 3 };
var windowOption = new Option<double>("--duration", "-d") { Description = "Seconds measured per run", DefaultValueFactory = _ => 3 };
var warmupOption = new Option<double>("--warmup") { Description = "Seconds of uncounted calls before each run", DefaultValueFactory = _ => 0.5 };
var timeoutOption = new Option<double>("--timeout") { Description = "Seconds one call may take before it counts as an error", DefaultValueFactory = _ => 10 };
var workloadOption = new Option<string[]>("--workload", "-w")
{
    Description = "Run only this workload (repeatable): " + string.Join(", ", Workload.RawWire.Select(workload => workload.Key)),
    HelpName = "KEY",
};
workloadOption.AcceptOnlyFromAmong([.. Workload.RawWire.Select(workload => workload.Key)]);
var outputOption = new Option<string?>("--output", "-o") { Description = "Folder for latest.md and latest.json (default: bench-results/ in the repository)", HelpName = "DIR" };
root.Options.Add(runsOption);
root.Options.Add(windowOption);
root.Options.Add(warmupOption);
root.Options.Add(timeoutOption);
root.Options.Add(outputOption);
root.Options.Add(workloadOption);
root.SetAction((parseResult, cancellationToken) => LabCommandLine.RunFatalSafeAsync("Lab.Bench", async () =>
{
    var settings = new BenchSettings(
        Math.Max(1, parseResult.GetValue(runsOption)),
        TimeSpan.FromSeconds(parseResult.GetValue(windowOption)),
        TimeSpan.FromSeconds(parseResult.GetValue(warmupOption)),
        TimeSpan.FromSeconds(parseResult.GetValue(timeoutOption)),
        parseResult.GetValue(outputOption) ?? Path.Combine(BenchPaths.Locate().Root, "bench-results"),
        (parseResult.GetValue(workloadOption) ?? []).ToHashSet(StringComparer.Ordinal));
    BenchReport report = await new Benchmark(settings, ColourWriter.ForConsole(Console.Out)).RunAsync(cancellationToken);
    return report.AllGoalsPass ? 0 : 1;
}));

var floorCommand = new Command("floor", "Run the floor server: frames each request without parsing it and writes a fixed reply.");
var floorHostOption = new Option<string>("--host", "-l") { Description = "Listen address, IPv4 or IPv6", DefaultValueFactory = _ => "127.0.0.1" };
var floorPortOption = new Option<int>("--port", "-p") { Description = "Listen port; 0 picks a free one", Required = true };
floorCommand.Options.Add(floorHostOption);
floorCommand.Options.Add(floorPortOption);
floorCommand.Options.Add(timeoutOption);
floorCommand.SetAction((parseResult, cancellationToken) => LabCommandLine.RunFatalSafeAsync("Lab.Bench floor", async () =>
{
    var endpoint = new IPEndPoint(IPAddress.Parse(parseResult.GetValue(floorHostOption)!), parseResult.GetValue(floorPortOption));
    await using FloorServer floor = FloorServer.Start(endpoint, TimeSpan.FromSeconds(parseResult.GetValue(timeoutOption)));
    string shown = floor.Endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
        ? $"[{floor.Endpoint.Address}]:{floor.Endpoint.Port}"
        : floor.Endpoint.ToString();
    Console.WriteLine($"Floor listening on {shown}");
    await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
    return 0;
}));
root.Subcommands.Add(floorCommand);

var loadCommand = new Command("load", "Run the load generator against one server over the raw wire protocol.");
var hostOption = new Option<string>("--host", "-i") { Description = "Server address", DefaultValueFactory = _ => "127.0.0.1" };
var portOption = new Option<int>("--port", "-p") { Description = "Server port", Required = true };
var connectionsOption = new Option<int>("--connections", "-c") { Description = "Concurrent connections (callers)", DefaultValueFactory = _ => 1 };
var payloadOption = new Option<int>("--payload", "-s") { Description = "0: call add(1, 2); N: call echo with N bytes", DefaultValueFactory = _ => 0 };
var newConnectionOption = new Option<bool>("--new-connection-per-call") { Description = "Connect, call and close for every call, as the lab's original client did" };
loadCommand.Options.Add(hostOption);
loadCommand.Options.Add(portOption);
loadCommand.Options.Add(connectionsOption);
loadCommand.Options.Add(windowOption);
loadCommand.Options.Add(warmupOption);
loadCommand.Options.Add(payloadOption);
loadCommand.Options.Add(newConnectionOption);
loadCommand.Options.Add(timeoutOption);
loadCommand.SetAction((parseResult, cancellationToken) => LabCommandLine.RunFatalSafeAsync("Lab.Bench load", async () =>
{
    var options = new LoadOptions(
        parseResult.GetValue(hostOption)!,
        parseResult.GetValue(portOption),
        Math.Max(1, parseResult.GetValue(connectionsOption)),
        TimeSpan.FromSeconds(parseResult.GetValue(windowOption)),
        TimeSpan.FromSeconds(parseResult.GetValue(warmupOption)),
        Math.Max(0, parseResult.GetValue(payloadOption)),
        parseResult.GetValue(newConnectionOption),
        TimeSpan.FromSeconds(parseResult.GetValue(timeoutOption)));
    IPAddress address = (await Dns.GetHostAddressesAsync(options.Host, cancellationToken))[0];
    var endpoint = new IPEndPoint(address, options.Port);
    LoadResult result = await LoadRun.RunAsync(
        options, _ => new RawWireCaller(endpoint, options.PayloadSize, options.NewConnectionPerCall), cancellationToken);
    LoadReport.Write(Console.Out, options, result);
    return result.Errors == 0 ? 0 : 1;
}));
root.Subcommands.Add(loadCommand);

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;

// Ctrl+C or SIGTERM cancels the token each action gets; the action then stops every process it
// started and returns its own exit code.
return await LabCommandLine.InvokeStoppableAsync(root.Parse(args));
