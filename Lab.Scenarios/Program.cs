using System.CommandLine;
using Lab.Hosting;
using Lab.Protocol;
using Lab.Scenarios;
using Lab.Scenarios.Harness;
using Lab.Testing;

// The teaching assistant's runner (lab requirements §9). Wiring only (options -> ScenarioRunner): the scenarios live in Scenarios/,
// the process machinery in Harness/.
//   dotnet run --project Lab.Scenarios -- --list
//   dotnet run --project Lab.Scenarios -- happy-path
//   dotnet run --project Lab.Scenarios                  (all of them)
//   dotnet run --project Lab.Scenarios -- --server-command "python3 {cwd}/server.py -l {host} -p {port}" --rubric Lab.Scenarios/rubric.ini
var namesArgument = new Argument<string[]>("scenarios")
{
    Description = "Scenarios to run, by name (see --list); none = all of them",
    Arity = ArgumentArity.ZeroOrMore,
};
var listOption = new Option<bool>("--list")
{
    Description = "List the scenarios and exit: name; R, S, C where it can grade a foreign registry, server, client; what it demonstrates",
};
var configOption = new Option<string?>("--config")
{
    Description = "INI file overriding the scenario timings (same sections and keys as config.ini)",
    HelpName = "FILE",
};
var reportOption = new Option<string?>("--report")
{
    Description = "Markdown report path; a .json twin is written next to it (default: scenario-reports/scenarios-<time>.md)",
    HelpName = "PATH",
};
var timeoutOption = new Option<double>("--timeout")
{
    Description = "Seconds one scenario may take before it is stopped and counted as FAIL",
    DefaultValueFactory = _ => 120,
    HelpName = "SECONDS",
};

var parallelOption = new Option<int>("--parallel")
{
    Description = $"How many scenarios run at once, each isolated (own ports, work directory, namespaces, processes); 1 = one after another (default on this machine: {ScenarioLanes.DefaultCount})",
    DefaultValueFactory = _ => ScenarioLanes.DefaultCount,
    HelpName = "N",
};
parallelOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() < 1)
    {
        result.AddError("--parallel must be at least 1");
    }
});

var rubricOption = new Option<string?>("--rubric")
{
    Description = "INI file of points per scenario (name = points): the summary and the report end with the score",
    HelpName = "FILE",
};
const string Placeholders = "placeholders: {host} {port} {registry_host} {registry_port} {config} {workdir} {cwd} {mode}; it starts in {workdir}";
var registryCommandOption = new Option<string?>("--registry-command")
{
    Description = $"Grade another implementation's registry: a command run through the shell instead of Lab.Registry ({Placeholders})",
    HelpName = "COMMAND",
};
var serverCommandOption = new Option<string?>("--server-command")
{
    Description = $"Grade another implementation's server: a command run instead of Lab.Server, e.g. \"python3 {{cwd}}/server.py -l {{host}} -p {{port}}\" ({Placeholders})",
    HelpName = "COMMAND",
};
var clientCommandOption = new Option<string?>("--client-command")
{
    Description = $"Grade another implementation's client: a command run instead of Lab.ClientApp; {{mode}} is server or registry ({Placeholders})",
    HelpName = "COMMAND",
};

var root = new RootCommand("RpcLab scenario runner: starts the real registry, server and client, injects one fault per scenario, "
                           + "narrates what happens and ends each with PASS or FAIL. Exit code = number of failed scenarios.")
{
    namesArgument, listOption, configOption, reportOption, timeoutOption, parallelOption, rubricOption,
    registryCommandOption, serverCommandOption, clientCommandOption,
};

root.SetAction(async (parseResult, _) =>
{
    if (parseResult.GetValue(listOption))
    {
        ScenarioCatalog.WriteList(Console.Out);
        return 0;
    }

    string[] names = parseResult.GetValue(namesArgument) ?? [];
    string[] unknown = [.. names.Where(name => ScenarioCatalog.Find(name) is null)];
    if (unknown.Length > 0)
    {
        await Console.Error.WriteLineAsync($"Lab.Scenarios: unknown scenario {string.Join(", ", unknown)}; --list shows the names");
        return LabCommandLine.ConfigurationErrorExitCode;
    }

    return await LabCommandLine.RunFatalSafeAsync("Lab.Scenarios", async () =>
    {
        LabPrograms programs = LabPrograms.Locate();
        programs.EnsureBuilt();
        ScenarioTimings timings = ScenarioTimings.Load(parseResult.GetValue(configOption));
        Rubric? rubric = parseResult.GetValue(rubricOption) is { } rubricPath ? Rubric.Load(rubricPath, ScenarioCatalog.All.Select(scenario => scenario.Name)) : null;
        var foreign = new ForeignPrograms(parseResult.GetValue(registryCommandOption), parseResult.GetValue(serverCommandOption), parseResult.GetValue(clientCommandOption));
        string reportPath = Path.GetFullPath(parseResult.GetValue(reportOption) ?? ScenarioReport.DefaultPath(programs.RepositoryRoot));
        // Coloured verdicts on a terminal only; a redirected run (a file, the tests, PowerShell capturing it) stays plain.
        TextWriter console = ColourWriter.ForConsole(Console.Out);
        var runner = new ScenarioRunner(programs, timings, TimeSpan.FromSeconds(parseResult.GetValue(timeoutOption)), console, foreign)
        {
            // Screenshots and other files land next to the report: scenarios-<time>-happy-path-dashboard.png.
            ArtifactPrefix = Path.ChangeExtension(reportPath, null) + "-",
            Parallel = parseResult.GetValue(parallelOption),
            LiveOnTerminal = LiveProgress.IsSupported,
        };
        IReadOnlyList<Scenario> selected = names.Length == 0 ? ScenarioCatalog.All : [.. names.Select(name => ScenarioCatalog.Find(name)!)];
        return await runner.RunAllAsync(selected, reportPath, rubric);
    });
});

// The runner handles Ctrl+C itself (kill every child, then report), so System.CommandLine's own
// termination handling — which would end the process 2 s after Ctrl+C — is turned off.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
