using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Grading;

/// <summary>What the teaching assistant asked <c>grade-class</c> for.</summary>
/// <param name="ClassDirectory">One sub-folder per student, each with a <c>lab.ini</c>.</param>
/// <param name="RubricPath">Points per scenario; the scenarios it names (with points) are the ones run.</param>
/// <param name="GradebookDirectory">Where the gradebook and every student's report and logs go.</param>
internal sealed record ClassGradingOptions(string ClassDirectory, string RubricPath, string GradebookDirectory)
{
    /// <summary>
    /// Twice the cores: a submission's grading mostly waits (for heartbeats, evictions, timeouts),
    /// and its programs together may use at most one core (the sandbox's quota).
    /// </summary>
    public static int DefaultParallel => Math.Max(2, Environment.ProcessorCount * 2);

    /// <summary>How many submissions are graded at the same time.</summary>
    public int Parallel { get; init; } = DefaultParallel;

    /// <summary>Each scenario's wall-clock limit (a scenario that runs load may take longer: its own minimum).</summary>
    public TimeSpan ScenarioTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>An INI file overriding the scenario timings (as the runner's <c>--config</c>), or null.</summary>
    public string? TimingsPath { get; init; }

    /// <summary>Grade only these students (folder names); the other rows of an earlier gradebook in the same folder are kept.</summary>
    public IReadOnlyList<string> Students { get; init; } = [];

    public SandboxLimits Limits { get; init; } = new();

    /// <summary>False: grade without the sandbox (<c>--no-sandbox</c>). True where none can be built: the run refuses, saying why.</summary>
    public bool UseSandbox { get; init; } = true;
}

/// <summary>
/// Grades a whole class in one command: every submission in its own sandbox, several side by side,
/// each by a child runner (<see cref="SubmissionGrading"/>) that runs the rubric's scenarios with the
/// student's programs in place of ours; then one gradebook (<see cref="Gradebook"/>) and, per
/// student, the report and a log per scenario.
/// </summary>
/// <remarks>
/// <para>
/// Why a child process per submission, not one process for the class: a submission's sandbox is a
/// network namespace and a mount namespace, and a process has one of each — the grader that watches
/// a submission's programs over loopback has to live in that submission's namespaces. It is also
/// the single-student run of chapter 13, unchanged, so grading one student again (<c>--student</c>)
/// runs exactly what the class run ran.
/// </para>
/// <para>
/// Nothing is left behind: each submission's sandbox is torn down when its grading ends (its cgroup's
/// processes killed, its namespace, cgroups and folder removed); on Ctrl+C or SIGTERM every child is
/// killed at once and every sandbox torn down, and the gradebook of the students finished so far is
/// still written. Leftovers of a run that crashed are removed by the next one (<see cref="SandboxRun.RemoveLeftovers"/>).
/// </para>
/// <para>Concurrency: submissions are graded on the thread pool, at most <see cref="ClassGradingOptions.Parallel"/> at once; rows are collected under <c>_gate</c>.</para>
/// <example>
/// <code>
/// var grading = new ClassGrading(LabPrograms.Locate(), new ClassGradingOptions("class/", "rubric.ini", "grades/"), Console.Out);
/// int exitCode = await grading.RunAsync();
/// </code>
/// </example>
/// </remarks>
internal sealed class ClassGrading(LabPrograms programs, ClassGradingOptions options, TextWriter output)
{
    private readonly Lock _gate = new();
    private readonly List<GradebookRow> _rows = []; // guarded by _gate

    /// <summary>The sandbox of the last run (disposed when the run ended), or null when it ran unsandboxed; the tests check it left nothing.</summary>
    public SandboxRun? LastSandbox { get; private set; }

    /// <summary>The path of the runner the children run: this program, built next to the lab's programs.</summary>
    public string RunnerDll => Path.Combine(programs.RepositoryRoot, "Lab.Scenarios", "bin", programs.Configuration, "net10.0", "Lab.Scenarios.dll");

    // What the child runner runs from stays readable in the sandbox's view, even inside a hidden folder
    // such as /tmp. A dotnet found on PATH ("dotnet", not a path) lives in a system folder nobody hides.
    private string[] KeptDirectories => Path.IsPathRooted(programs.DotnetHost)
        ? [programs.RepositoryRoot, Path.GetDirectoryName(programs.DotnetHost)!]
        : [programs.RepositoryRoot];

    /// <summary>
    /// Grades the class and writes the gradebook. Returns 0 when every selected submission was graded
    /// (whatever its score), 1 when the run was interrupted or a submission's grading broke down.
    /// </summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        IReadOnlyList<Submission> all = Submission.FindAll(options.ClassDirectory);
        string[] unknown = [.. options.Students.Where(name => all.All(submission => submission.Name != name))];
        if (unknown.Length > 0)
        {
            throw new ArgumentException($"no submission named {string.Join(", ", unknown)} in {options.ClassDirectory}");
        }

        IReadOnlyList<Submission> selected = options.Students.Count == 0 ? all : [.. all.Where(submission => options.Students.Contains(submission.Name))];
        Rubric rubric = Rubric.Load(options.RubricPath, ScenarioCatalog.All.Select(scenario => scenario.Name));
        string[] scenarios = [.. ScenarioCatalog.All.Select(scenario => scenario.Name).Where(name => rubric.Points.GetValueOrDefault(name) > 0)];
        if (scenarios.Length == 0)
        {
            throw new ArgumentException($"{options.RubricPath} gives points to no scenario");
        }

        if (!File.Exists(RunnerDll))
        {
            throw new InvalidOperationException($"{RunnerDll} does not exist; build first: dotnet build -c {programs.Configuration}");
        }

        string? noSandbox = options.UseSandbox ? SandboxRun.UnsupportedReason() : "turned off (--no-sandbox)";
        if (options.UseSandbox && noSandbox is not null)
        {
            // Submissions are untrusted code: running them uncontained is the teaching assistant's explicit choice, never a silent fallback.
            throw new InvalidOperationException($"no sandbox can be built here: {noSandbox}. Run as root on Linux, or pass --no-sandbox to grade anyway: {SandboxRun.WhatIsNotContained}");
        }

        output.WriteLine($"grading {selected.Count} of {all.Count} submission(s) in {Path.GetFullPath(options.ClassDirectory)}: {scenarios.Length} scenarios each, {options.Parallel} at a time");
        output.WriteLine(noSandbox is null
            ? $"sandbox: a network namespace, a uid and a cgroup per submission; limits {options.Limits}"
              + (ConnectOutWatch.IsAvailable ? "" : "; nft is not installed, so attempts to connect out fail unseen (apt-get install nftables)")
            : $"NO SANDBOX ({noSandbox}): {SandboxRun.WhatIsNotContained}");

        using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using SandboxRun? run = noSandbox is null ? SandboxRun.Create() : null;
        LastSandbox = run;
        string runName = run?.Name ?? string.Create(CultureInfo.InvariantCulture, $"{SandboxRun.NamePrefix}{Environment.ProcessId}-{SandboxRun.NextSequence()}");
        using IDisposable exitHandlers = ProcessTracker.InstallExitHandlers(onInterrupt: interrupted.Cancel, afterKills: () => run?.Dispose());
        foreach (string leftover in run?.RemovedLeftovers ?? [])
        {
            output.WriteLine($"removed {leftover}");
        }

        var clock = Stopwatch.StartNew();
        var progress = new GradingProgress(selected.Count, scenarios.Length, output);
        Directory.CreateDirectory(options.GradebookDirectory);
        try
        {
            // A submission's number (its uid, its namespace) is its place in the whole class, so grading it again alone gives it the same.
            await Parallel.ForEachAsync(selected.Select(submission => (submission, index: all.ToList().IndexOf(submission))),
                new ParallelOptions { MaxDegreeOfParallelism = options.Parallel, CancellationToken = interrupted.Token },
                async (item, token) => Add(await GradeAsync(item.submission, item.index, scenarios, rubric, run, runName, progress, token)));
        }
        catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
        {
            output.WriteLine($"interrupted: {selected.Count - _rows.Count} submission(s) not graded");
        }

        Gradebook book = WriteGradebook(scenarios, rubric, selected, noSandbox, clock.Elapsed);
        return interrupted.IsCancellationRequested || book.Rows.Any(row => row.Note is not null && selected.Any(submission => submission.Name == row.Student)) ? 1 : 0;
    }

    private void Add(GradebookRow row)
    {
        lock (_gate)
        {
            _rows.Add(row);
        }
    }

    private async Task<GradebookRow> GradeAsync(Submission submission, int index, string[] scenarios, Rubric rubric, SandboxRun? run, string runName, GradingProgress progress,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        progress.Started(submission.Name);
        if (submission.ManifestError is { } manifestError)
        {
            progress.Finished(submission.Name, $"not graded: {manifestError}");
            return Gradebook.Row(submission, scenarios, rubric, [], $"not graded: {manifestError}", clock.Elapsed);
        }

        string studentBook = Path.Combine(options.GradebookDirectory, submission.Slug);
        if (Directory.Exists(studentBook))
        {
            Directory.Delete(studentBook, recursive: true);
        }

        string[] hidden = [Path.GetFullPath(options.ClassDirectory), Path.GetFullPath(options.GradebookDirectory)];
        using ISubmissionHost host = run is null
            ? UnsandboxedSubmission.Create(runName, submission.Slug, submission.Directory)
            : await run.AddAsync(index, submission.Slug, submission.Directory, hidden, options.Limits, KeptDirectories, cancellationToken);
        SubmissionPlan plan = Plan(submission, scenarios, host);
        string planPath = Path.Combine(host.OutputDirectory, "plan.json");
        plan.Save(planPath);

        (string fileName, string[] arguments) = host.LaunchCommand(programs.DotnetHost, [RunnerDll, "grade-submission", planPath]);
        string? note = null;
        await using (ManagedProcess child = ManagedProcess.Start($"grader-{submission.Slug}", fileName, arguments, host.CopyDirectory,
                         (_, line) => progress.ChildLine(submission.Name, line.Text), host.LaunchEnvironment))
        {
            try
            {
                await child.WaitForExitAsync(ChildLimit(scenarios), cancellationToken);
                // Killed by Ctrl+C rather than finished: not a row of the gradebook.
                cancellationToken.ThrowIfCancellationRequested();
            }
            catch (ScenarioFailedException ex)
            {
                note = $"grading did not finish: {ex.Message}";
            }
            finally
            {
                Directory.CreateDirectory(studentBook);
                await File.WriteAllLinesAsync(Path.Combine(studentBook, "console.log"), child.Lines.Select(line => line.Text), CancellationToken.None);
            }
        }

        IReadOnlyList<ScenarioResult> results = ReadResults(Path.ChangeExtension(plan.ReportPath, ".json"));
        if (note is null && results.Count < scenarios.Length)
        {
            note = $"the grader stopped after {results.Count} of {scenarios.Length} scenarios (see console.log)";
        }

        CopyOut(host.OutputDirectory, studentBook);
        GradebookRow row = Gradebook.Row(submission, scenarios, rubric, results, note, clock.Elapsed);
        progress.Finished(submission.Name, $"{row.Earned} / {row.Possible}{(note is null ? "" : $" ({note})")}");
        return row;
    }

    private SubmissionPlan Plan(Submission submission, string[] scenarios, ISubmissionHost host)
    {
        // The child may not see the teaching assistant's folders (they can be hidden from it): it gets copies.
        string rubric = Path.Combine(host.OutputDirectory, "rubric.ini");
        File.Copy(options.RubricPath, rubric);
        string? timings = null;
        if (options.TimingsPath is not null)
        {
            timings = Path.Combine(host.OutputDirectory, "timings.ini");
            File.Copy(options.TimingsPath, timings);
        }

        return new SubmissionPlan(submission.Name, submission.Programs.RegistryCommand, submission.Programs.ServerCommand, submission.Programs.ClientCommand,
            scenarios, rubric, timings, options.ScenarioTimeout.TotalSeconds,
            Path.Combine(host.OutputDirectory, "report.md"), Path.Combine(host.OutputDirectory, "logs"), host.Settings);
    }

    // The child enforces each scenario's limit; this only bounds a child that hangs outside any scenario.
    private TimeSpan ChildLimit(string[] scenarios) =>
        TimeSpan.FromSeconds(60) + scenarios.Select(ScenarioCatalog.Find).OfType<Scenario>()
            .Aggregate(TimeSpan.Zero, (sum, scenario) => sum + Max(options.ScenarioTimeout, scenario.MinimumTimeout ?? TimeSpan.Zero) + TimeSpan.FromSeconds(30));

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private Gradebook WriteGradebook(string[] scenarios, Rubric rubric, IReadOnlyList<Submission> selected, string? noSandbox, TimeSpan took)
    {
        List<GradebookRow> rows;
        lock (_gate)
        {
            rows = [.. _rows];
        }

        // Regrading some students keeps the others' rows from the gradebook already in the folder.
        rows.AddRange(Gradebook.LoadRows(options.GradebookDirectory).Where(old => selected.All(submission => submission.Name != old.Student)));
        rows.Sort((a, b) => string.CompareOrdinal(a.Student, b.Student));
        string[] header =
        [
            string.Create(CultureInfo.InvariantCulture, $"{rows.Count} submission(s) from {Path.GetFullPath(options.ClassDirectory)}, rubric {Path.GetFullPath(options.RubricPath)}; this run graded {_rows.Count} in {took.TotalMinutes:0.0} min on {Environment.MachineName}, finished {DateTimeOffset.Now:yyyy-MM-dd HH:mm}"),
            noSandbox is null ? $"sandboxed: own network namespace, uid and cgroup per submission; limits {options.Limits}" : $"not sandboxed ({noSandbox})",
            "A cell is the points a scenario earned (0: FAIL, skip: it cannot grade these programs and is not counted); hover for the reason, click for the log.",
        ];
        var book = new Gradebook(scenarios, rubric, rows, header);
        IReadOnlyList<string> paths = book.Save(options.GradebookDirectory);
        output.WriteLine();
        foreach (GradebookRow row in rows)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {row.Student,-24} {row.Earned,4} / {row.Possible,-4} {row.Note}").TrimEnd());
        }

        output.WriteLine($"gradebook: {string.Join(", ", paths)}");
        return book;
    }

    /// <summary>The verdicts in a report's JSON twin (<see cref="ScenarioReport.Save"/>); none when the grader wrote no report.</summary>
    public static IReadOnlyList<ScenarioResult> ReadResults(string jsonReport)
    {
        if (!File.Exists(jsonReport))
        {
            return [];
        }

        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(jsonReport));
        return [.. document.RootElement.GetProperty("scenarios").EnumerateArray().Select(scenario => new ScenarioResult(
            scenario.GetProperty("name").GetString()!,
            scenario.GetProperty("requirement").GetString() ?? "",
            Enum.Parse<ScenarioOutcome>(scenario.GetProperty("outcome").GetString()!, ignoreCase: true),
            scenario.GetProperty("reason").GetString(),
            TimeSpan.FromSeconds(scenario.GetProperty("seconds").GetDouble()),
            [],
            []))];
    }

    // The report, its JSON twin, the logs and any saved screenshot go to the gradebook; the plan and copies of our own files stay behind.
    private static void CopyOut(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from).Where(file => Path.GetFileName(file) is not ("plan.json" or "rubric.ini" or "timings.ini")))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
        }

        foreach (string directory in Directory.GetDirectories(from))
        {
            CopyOut(directory, Path.Combine(to, Path.GetFileName(directory)));
        }
    }
}
