using System.CommandLine;
using Lab.Hosting;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Grading;

/// <summary>
/// The runner's class-grading commands, added to its command line by <c>Program.cs</c>:
/// <c>grade-class</c> (a folder of submissions to one gradebook), <c>generate-class</c> (a class to
/// try it on) and the hidden <c>grade-submission</c> that <c>grade-class</c> runs once per submission.
/// </summary>
/// <example>
/// <code>
/// dotnet run --project Lab.Scenarios -- generate-class /srv/sample-class --copies 2
/// dotnet run --project Lab.Scenarios -- grade-class /srv/sample-class --rubric Lab.Scenarios/rubric.ini --gradebook /srv/grades
/// </code>
/// </example>
internal static class GradingCommands
{
    public static IEnumerable<Command> All => [GradeClass(), GenerateClass(), GradeSubmission()];

    private static Command GradeClass()
    {
        var classArgument = new Argument<string>("class") { Description = "The class folder: one sub-folder per student, each with a lab.ini naming its registry, server and client commands" };
        var rubric = new Option<string>("--rubric") { Description = "Points per scenario (as for the runner's --rubric); the scenarios with points are the ones run", Required = true, HelpName = "FILE" };
        var gradebook = new Option<string>("--gradebook") { Description = "Folder for gradebook.csv, gradebook.html and each student's report and logs", Required = true, HelpName = "DIR" };
        var parallel = new Option<int>("--parallel") { Description = "Submissions graded at the same time", DefaultValueFactory = _ => ClassGradingOptions.DefaultParallel, HelpName = "N" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds one scenario may take before it is stopped and counted as FAIL", DefaultValueFactory = _ => 120, HelpName = "SECONDS" };
        var config = new Option<string?>("--config") { Description = "INI file overriding the scenario timings (as for the runner)", HelpName = "FILE" };
        var students = new Option<string[]>("--student") { Description = "Grade only this student (repeatable); the other rows of the gradebook already in --gradebook are kept", HelpName = "NAME" };
        var defaults = new SandboxLimits();
        var memory = new Option<int>("--memory-mib") { Description = "Memory one program may use", DefaultValueFactory = _ => defaults.MemoryMiB, HelpName = "MIB" };
        var processes = new Option<int>("--max-processes") { Description = "Processes and threads one program may have at once", DefaultValueFactory = _ => defaults.MaxProcesses, HelpName = "N" };
        var files = new Option<int>("--max-open-files") { Description = "Open files and sockets per process", DefaultValueFactory = _ => defaults.MaxOpenFiles, HelpName = "N" };
        var cpu = new Option<int>("--cpu-seconds") { Description = "CPU time one process may use", DefaultValueFactory = _ => defaults.CpuSeconds, HelpName = "SECONDS" };
        var noSandbox = new Option<bool>("--no-sandbox") { Description = "Grade without the sandbox: the submissions run as you, uncontained (needed where no sandbox can be built: not root, not Linux)" };
        var command = new Command("grade-class", "Grade a folder of submissions, each in its own sandbox, several side by side, into one gradebook (docs/13-grading.md)")
        {
            classArgument, rubric, gradebook, parallel, timeout, config, students, memory, processes, files, cpu, noSandbox,
        };
        command.SetAction(async (parseResult, cancellationToken) => await LabCommandLine.RunFatalSafeAsync("Lab.Scenarios grade-class", async () =>
        {
            LabPrograms programs = LabPrograms.Locate();
            programs.EnsureBuilt();
            var options = new ClassGradingOptions(parseResult.GetValue(classArgument)!, parseResult.GetValue(rubric)!, parseResult.GetValue(gradebook)!)
            {
                Parallel = Math.Max(1, parseResult.GetValue(parallel)),
                ScenarioTimeout = TimeSpan.FromSeconds(parseResult.GetValue(timeout)),
                TimingsPath = parseResult.GetValue(config),
                Students = parseResult.GetValue(students) ?? [],
                UseSandbox = !parseResult.GetValue(noSandbox),
                Limits = new SandboxLimits
                {
                    MemoryMiB = parseResult.GetValue(memory),
                    MaxProcesses = parseResult.GetValue(processes),
                    MaxOpenFiles = parseResult.GetValue(files),
                    CpuSeconds = parseResult.GetValue(cpu),
                },
            };
            return await new ClassGrading(programs, options, ColourWriter.ForConsole(Console.Out)).RunAsync(cancellationToken);
        }));
        return command;
    }

    private static Command GenerateClass()
    {
        var directory = new Argument<string>("folder") { Description = "Where to write the class (created; must be empty or absent)" };
        var copies = new Option<int>("--copies") { Description = "How many times each kind of submission appears (2 makes a class of 20)", DefaultValueFactory = _ => 1, HelpName = "N" };
        var kinds = new Option<string[]>("--kind")
        {
            Description = $"Only this kind of submission (repeatable): {string.Join(", ", SampleClass.Kinds.Select(kind => kind.Name))}",
            HelpName = "KIND",
        };
        kinds.AcceptOnlyFromAmong([.. SampleClass.Kinds.Select(kind => kind.Name)]);
        var command = new Command("generate-class", "Write a sample class to grade: our programs, the Python peer's, and broken and hostile variants of it; grade it only in the sandbox (docs/13-grading.md)")
        {
            directory, copies, kinds,
        };
        command.SetAction(parseResult => LabCommandLine.RunFatalSafeAsync("Lab.Scenarios generate-class", () =>
        {
            string[] only = parseResult.GetValue(kinds) ?? [];
            IReadOnlyList<string> written = SampleClass.Write(LabPrograms.Locate(), parseResult.GetValue(directory)!, Math.Max(1, parseResult.GetValue(copies)), only.Length == 0 ? null : only);
            foreach (string line in written)
            {
                Console.WriteLine(line);
            }

            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command GradeSubmission()
    {
        var plan = new Argument<string>("plan") { Description = "The plan grade-class wrote for this submission" };
        var command = new Command("grade-submission", "Grade one submission from a plan (grade-class runs this inside the submission's sandbox)") { plan };
        command.Hidden = true;
        command.SetAction(parseResult => LabCommandLine.RunFatalSafeAsync("Lab.Scenarios grade-submission",
            () => SubmissionGrading.RunAsync(SubmissionPlan.Load(parseResult.GetValue(plan)!), Console.Out)));
        return command;
    }
}
