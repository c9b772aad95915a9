using System.CommandLine;
using Lab.Hosting;
using Lab.Protocol;

namespace Lab.ClientApp;

/// <summary>The client's command line (lab requirements §6): <c>-m/--mode server|registry</c> (default registry),
/// <c>-i/--host</c> and <c>-p/--port</c> for server mode, <c>--config</c>, <c>--duration</c>,
/// <c>--concurrency</c>, <c>--interval</c>, and an optional <c>METHOD [ARG...]</c>.</summary>
public static class ClientCommandLine
{
    public const string ProgramName = "Lab.ClientApp";

    public static RootCommand Create()
    {
        var mode = new Option<string?>("--mode", "-m")
        {
            Description = "registry: find servers through the registry in the configuration (default); server: call -i/-p directly",
            HelpName = "server|registry",
        };
        mode.AcceptOnlyFromAmong("server", "registry");
        var host = new Option<string?>("--host", "-i") { Description = "Server address in server mode, IPv4 or IPv6", HelpName = "HOST" };
        var port = new Option<int?>("--port", "-p") { Description = "Server port in server mode", HelpName = "PORT" };
        port.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1 or > 65535)
                result.AddError("-p/--port must be between 1 and 65535");
        });
        var config = LabCommandLine.CreateConfigOption();
        var duration = new Option<double?>("--duration") { Description = "Keep calling for this many seconds, then print a summary (each line on standard input starts a new phase of it)", HelpName = "SECONDS" };
        var concurrency = new Option<int>("--concurrency")
        {
            Description = "Calls in flight at once with --duration",
            HelpName = "N",
            DefaultValueFactory = _ => ClientOptions.DefaultConcurrency,
        };
        var interval = new Option<double?>("--interval")
        {
            Description = "With --duration: each of the --concurrency callers starts a call at most every this many milliseconds, "
                          + "a steady load that leaves the machine room for other work (default: back to back, as fast as the server answers)",
            HelpName = "MILLISECONDS",
        };
        var call = new Argument<string[]>("METHOD [ARG...]")
        {
            Description = "One call, e.g. \"add 1 2\" or \"hi bob\"; each ARG is JSON when it parses as JSON, else a string. Without it: the lab's demo",
            Arity = ArgumentArity.ZeroOrMore,
        };

        var root = new RootCommand("RpcLab client: calls the lab's RPC servers, directly or through the registry center")
        {
            mode, host, port, config, duration, concurrency, interval, call,
        };
        root.SetAction((parseResult, cancellationToken) =>
        {
            var options = new ClientOptions(
                ConfigPath: parseResult.GetValue(config),
                Mode: parseResult.GetValue(mode),
                Host: parseResult.GetValue(host),
                Port: parseResult.GetValue(port),
                DurationSeconds: parseResult.GetValue(duration),
                Concurrency: parseResult.GetValue(concurrency),
                Call: parseResult.GetValue(call) ?? [],
                IntervalMilliseconds: parseResult.GetValue(interval));
            return LabCommandLine.RunFatalSafeAsync(ProgramName, () => ClientProgram.RunAsync(options, Console.Out, Console.Error, cancellationToken: cancellationToken, phaseMarks: Console.In));
        });
        return root;
    }
}
