using System.Diagnostics;
using Lab.Scenarios.Grading;
using Lab.Scenarios.Harness;
using Lab.Scenarios.Network;
using Lab.Testing;
using Spectre.Console;

namespace Lab.Scenarios;

/// <summary>PASS, FAIL or SKIP (a scenario that cannot run on this OS).</summary>
internal enum ScenarioOutcome
{
    Pass,
    Fail,
    Skip,
}

/// <summary>The verdict of one scenario run, with its full narration for the report.</summary>
internal sealed record ScenarioResult(
    string Name,
    string Requirement,
    ScenarioOutcome Outcome,
    string? Reason,
    TimeSpan Duration,
    IReadOnlyList<string> Narration,
    IReadOnlyList<int> StartedProcessIds)
{
    /// <summary>The network namespaces the scenario built (all deleted by the time the result exists).</summary>
    public IReadOnlyList<string> Namespaces { get; init; } = [];

    /// <summary><c>PASS</c>, <c>SKIP: reason</c> or <c>FAIL: reason</c>.</summary>
    public string Verdict => Outcome switch
    {
        ScenarioOutcome.Pass => "PASS",
        ScenarioOutcome.Skip => $"SKIP: {Reason}",
        _ => $"FAIL: {Reason}",
    };
}

/// <summary>
/// Runs one scenario from start to verdict: a temporary directory with its config.ini, a process
/// group, a time limit — and, whatever happens, every process it started killed before the verdict.
/// </summary>
/// <remarks>
/// A scenario that overruns its limit is abandoned, not awaited: its processes are killed (which
/// makes its pending waits fail at once) and its cancellation token fires. Its process group refuses
/// new processes from then on, so an abandoned scenario cannot leave one behind.
/// <example>
/// <code>
/// var runner = new ScenarioRunner(LabPrograms.Locate(), ScenarioTimings.Load(null), TimeSpan.FromSeconds(90), Console.Out);
/// ScenarioResult result = await runner.RunAsync(ScenarioCatalog.Find("happy-path")!, token);
/// </code>
/// </example>
/// </remarks>
internal sealed class ScenarioRunner(LabPrograms programs, ScenarioTimings timings, TimeSpan scenarioTimeout, TextWriter output, ForeignPrograms? foreign = null)
{
    private readonly ForeignPrograms _foreign = foreign ?? ForeignPrograms.None;

    /// <summary>
    /// Why <paramref name="scenario"/> cannot grade any of this run's foreign programs, or null when it
    /// grades at least one (the others it runs with ours in their place: <see cref="ForeignPrograms.Only"/>).
    /// </summary>
    public static string? ForeignSkipReason(Scenario scenario, ForeignPrograms foreign)
    {
        LabProgram[] ungraded = [.. foreign.Kinds.Where(kind => !scenario.Grades.Contains(kind))];
        return ungraded.Length == 0 || ungraded.Length < foreign.Kinds.Count
            ? null
            : $"does not grade a foreign {string.Join(" or ", ungraded.Select(kind => kind.ToString().ToLowerInvariant()))}: "
              + string.Join("; ", ungraded.Select(kind => scenario.WhyNotGraded(kind)));
    }

    /// <summary>Where scenarios save files for the report (see <see cref="ScenarioContext.ArtifactPath"/>); null: nowhere kept.</summary>
    public string? ArtifactPrefix { get; init; }

    /// <summary>How many scenarios <see cref="RunAllAsync"/> runs at once (see <see cref="ScenarioLanes"/>); 1: one after another.</summary>
    public int Parallel { get; init; } = 1;

    /// <summary>Side by side, show who is running in a block redrawn in place (<see cref="LiveProgress"/>): only on a terminal.</summary>
    public bool LiveOnTerminal { get; init; }

    /// <summary>Class grading: the sandbox each foreign program runs in (<see cref="ScenarioSandbox"/>); null: they run as we do.</summary>
    public SandboxSettings? Sandbox { get; init; }

    /// <summary>Class grading: where each scenario's log goes (<see cref="ScenarioLog"/>); null: none written.</summary>
    public string? LogDirectory { get; init; }

    /// <summary>
    /// Runs <paramref name="selected"/> — one after another, or <see cref="Parallel"/> at once — prints
    /// the summary (and the score, with a rubric) and saves the report, both in the order given.
    /// Ctrl+C or SIGTERM ends the run after the running scenarios' clean-up. Returns the exit code:
    /// the number of failed scenarios, at least 1 when interrupted.
    /// </summary>
    public async Task<int> RunAllAsync(IReadOnlyList<Scenario> selected, string reportPath, Rubric? rubric = null, IScenarioProgress? progress = null)
    {
        using var interrupted = new CancellationTokenSource();
        using IDisposable exitHandlers = ProcessTracker.InstallExitHandlers(onInterrupt: interrupted.Cancel, afterKills: LabNetwork.DisposeAll);
        var clock = Stopwatch.StartNew();
        int lanes = Math.Clamp(Parallel, 1, Math.Max(1, selected.Count));
        // One at a time, the narration streams as it happens; side by side, each timeline is printed whole
        // when it ends, under a live block of who is running on a terminal, with a status line in a file.
        progress ??= lanes == 1 ? new StreamingProgress(output, selected.Count)
            : LiveOnTerminal ? new LiveProgress(AnsiConsole.Console, selected.Count, lanes)
            : new PlainProgress(output, selected.Count, lanes);
        IReadOnlyList<Scenario> order = lanes == 1 ? selected : ScenarioLanes.LaneOrder(selected);
        IReadOnlyList<Task<ScenarioResult>> runs = new ScenarioLanes(lanes).Start([.. order.Select(scenario => new ScenarioJob(scenario, this))], progress, interrupted.Token);
        try
        {
            await Task.WhenAll(runs);
        }
        catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
        {
            // Ctrl+C: the scenarios that never got a lane are reported as not run.
        }
        finally
        {
            if (progress is IAsyncDisposable live)
            {
                await live.DisposeAsync();
            }
        }

        Dictionary<Scenario, ScenarioResult> finished = order.Zip(runs).Where(pair => pair.Second.IsCompletedSuccessfully).ToDictionary(pair => pair.First, pair => pair.Second.Result);
        ScenarioResult[] results = [.. selected.Where(finished.ContainsKey).Select(scenario => finished[scenario])];
        IReadOnlyList<string>? score = rubric?.Score(results);
        ScenarioReport.WriteSummary(output, results, clock.Elapsed, score);
        if (interrupted.IsCancellationRequested && results.Length < selected.Count)
        {
            output.WriteLine($"interrupted: {selected.Count - results.Length} scenario(s) not run");
        }

        (string markdown, string json) = ScenarioReport.Save(results, clock.Elapsed, reportPath, score);
        output.WriteLine($"report: {markdown} (and {Path.GetFileName(json)})");
        int failures = results.Count(result => result.Outcome == ScenarioOutcome.Fail);
        return interrupted.IsCancellationRequested ? Math.Max(failures, 1) : failures;
    }

    /// <summary>Runs one scenario, narrating to the runner's output as it happens.</summary>
    public Task<ScenarioResult> RunAsync(Scenario scenario, CancellationToken cancellationToken = default) => RunAsync(scenario, output, cancellationToken);

    /// <summary>
    /// Runs one scenario in a lane of its own — a fresh work directory and config.ini, free ports,
    /// its own process group and namespaces — and narrates it to <paramref name="timeline"/>.
    /// May run concurrently with other scenarios of this runner.
    /// </summary>
    public async Task<ScenarioResult> RunAsync(Scenario scenario, TextWriter timeline, CancellationToken cancellationToken = default)
    {
        var narrator = new Narrator(timeline);
        var clock = Stopwatch.StartNew();
        timeline.WriteLine();
        timeline.WriteLine($"=== {scenario.Name} ===");
        timeline.WriteLine($"    demonstrates: {scenario.Demonstrates}");
        timeline.WriteLine($"    requirement:  {scenario.Requirement}");

        string? skipReason = scenario.NeedsPosixSignals && !ProcessSignals.AreSupported
            ? "needs Ctrl+C/SIGTERM delivered to a child process, which Windows cannot do"
            : (scenario.NeedsNetwork ? LabNetwork.UnsupportedReason() : null)
              ?? scenario.MissingPrerequisite?.Invoke()
              ?? ForeignSkipReason(scenario, _foreign);
        if (skipReason is not null)
        {
            timeline.WriteLine($"SKIP: {skipReason}");
            return new ScenarioResult(scenario.Name, scenario.Requirement, ScenarioOutcome.Skip, skipReason, clock.Elapsed, narrator.Lines, []);
        }

        TimeSpan limit = scenario.MinimumTimeout is { } minimum && minimum > scenarioTimeout ? minimum : scenarioTimeout;
        // Straight in the temp folder, not in a shared parent: nothing is left there once the scenario's own folder is gone.
        string workDirectory = Directory.CreateTempSubdirectory($"rpclab-{scenario.Name}-").FullName;
        var processes = new ProcessGroup(workDirectory, narrator.Echo);
        using var scenarioCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ForeignPrograms foreign = _foreign.Only(scenario.Grades);
        await using ScenarioSandbox? sandbox = Sandbox is null || foreign.Kinds.Count == 0 ? null : ScenarioSandbox.Begin(Sandbox, scenario.Name, workDirectory);
        var context = new ScenarioContext(narrator, programs, timings, workDirectory, processes, scenarioCancellation.Token, foreign)
        {
            ArtifactPrefix = ArtifactPrefix,
            TimeLimit = limit,
            Sandbox = sandbox,
        };
        narrator.Note($"every program runs with --config {context.Config.Path} (timings: {timings.Source})");
        foreach (LabProgram kind in _foreign.Kinds.Except(foreign.Kinds))
        {
            narrator.Note($"our {LabPrograms.ProjectName(kind)} stands in for the foreign {kind.ToString().ToLowerInvariant()}: {scenario.WhyNotGraded(kind)}");
        }

        ScenarioOutcome outcome = ScenarioOutcome.Pass;
        string? reason = null;
        Task body = Task.CompletedTask;
        try
        {
            body = Task.Run(() => scenario.RunAsync(context), CancellationToken.None);
            // A sandboxed program stopped by a limit ends the scenario at once (abandoned like an overrun one).
            await (sandbox is null ? body : Task.WhenAny(body, sandbox.LimitBroken).Unwrap()).WaitAsync(limit, cancellationToken);
        }
        catch (ScenarioFailedException ex)
        {
            (outcome, reason) = (ScenarioOutcome.Fail, ex.Message);
        }
        catch (TimeoutException) when (!body.IsCompleted)
        {
            (outcome, reason) = (ScenarioOutcome.Fail, $"the scenario did not finish within its {limit.TotalSeconds:0} s limit");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            (outcome, reason) = (ScenarioOutcome.Fail, "interrupted (Ctrl+C or SIGTERM to the runner)");
        }
        catch (Exception ex)
        {
            (outcome, reason) = (ScenarioOutcome.Fail, $"{ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            // A broken limit is the verdict's first reason: it often explains the rest (a server the OOM killer stopped answers nothing).
            if (await CleanUpAsync(narrator, processes, scenarioCancellation, outcome != ScenarioOutcome.Pass, sandbox) is { } broken)
            {
                (outcome, reason) = (ScenarioOutcome.Fail, reason is null || broken.Contains(reason, StringComparison.Ordinal) ? broken : $"{broken}; {reason}");
            }

            // After the kills: a namespace lives on while a process runs in it.
            context.Dispose();
            if (context.Namespaces.Count > 0)
            {
                string[] left = [.. context.Namespaces.Where(LabNetwork.Exists)];
                narrator.Check(left.Length == 0, left.Length == 0
                    ? $"no network namespace left behind ({context.Namespaces.Count} built, all deleted)"
                    : $"network namespaces still there after clean-up: {string.Join(", ", left)}");
            }

            TryDeleteDirectory(workDirectory);
        }

        var result = new ScenarioResult(scenario.Name, scenario.Requirement, outcome, reason, clock.Elapsed, narrator.Lines, processes.StartedProcessIds)
        {
            Namespaces = context.Namespaces,
        };
        timeline.WriteLine($"{result.Verdict}  ({clock.Elapsed.TotalSeconds:0.0} s)");
        if (LogDirectory is not null)
        {
            ScenarioLog.Write(LogDirectory, result, processes.Processes);
        }

        return result;
    }

    // Returns the limits a sandboxed program broke (see ScenarioSandbox.EndAsync), or null.
    private static async Task<string?> CleanUpAsync(Narrator narrator, ProcessGroup processes, CancellationTokenSource scenarioCancellation, bool failed, ScenarioSandbox? sandbox)
    {
        if (failed)
        {
            // What each program said last is usually the explanation of a FAIL.
            foreach (ManagedProcess process in processes.Processes)
            {
                IReadOnlyList<OutputLine> lines = process.Lines;
                narrator.Note($"last output of {process.Name} (pid {process.Id}, {(process.HasExited ? $"exit code {process.ExitCode}" : "still running")}):");
                foreach (OutputLine line in lines.Skip(Math.Max(0, lines.Count - 12)))
                {
                    narrator.Note($"    {process.Name} | {Narrator.Shorten(Narrator.StripLogTimestamp(line.Text))}");
                }
            }
        }

        IReadOnlyList<ManagedProcess> running = processes.Running();
        if (running.Count > 0)
        {
            narrator.Step($"cleaning up: kill -9 of {string.Join(", ", running.Select(process => $"{process.Name} (pid {process.Id})"))}");
        }

        await scenarioCancellation.CancelAsync();
        string? broken = null;
        if (sandbox is not null)
        {
            // Before the wait for the programs' output to end: a process that outlived its program may
            // hold that output open. The sandbox names it and kills it; then the wait is short.
            processes.KillAll();
            broken = await sandbox.EndAsync(narrator, CancellationToken.None);
        }

        await processes.DisposeAsync();
        int[] survivors = [.. processes.StartedProcessIds.Where(IsAlive)];
        narrator.Check(survivors.Length == 0, survivors.Length == 0
            ? $"no process left behind ({processes.StartedProcessIds.Count} started, all gone)"
            : $"processes still alive after clean-up: {string.Join(", ", survivors)}");
        return broken;
    }

    /// <summary>True while a process with this id exists (and has not exited).</summary>
    public static bool IsAlive(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a dying process on Windows: the temp folder is cleaned by the OS.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
