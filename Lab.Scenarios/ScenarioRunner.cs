using System.Diagnostics;
using Lab.Scenarios.Grading;
using Lab.Scenarios.Harness;
using Lab.Scenarios.Network;
using Lab.Testing;

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

    /// <summary>Class grading: the sandbox each foreign program runs in (<see cref="ScenarioSandbox"/>); null: they run as we do.</summary>
    public SandboxSettings? Sandbox { get; init; }

    /// <summary>Class grading: where each scenario's log goes (<see cref="ScenarioLog"/>); null: none written.</summary>
    public string? LogDirectory { get; init; }

    /// <summary>
    /// Runs <paramref name="selected"/> one after another, prints the summary (and the score, with a
    /// rubric) and saves the report. Ctrl+C or SIGTERM ends the run after the current scenario's
    /// clean-up. Returns the exit code: the number of failed scenarios, at least 1 when interrupted.
    /// </summary>
    public async Task<int> RunAllAsync(IReadOnlyList<Scenario> selected, string reportPath, Rubric? rubric = null)
    {
        using var interrupted = new CancellationTokenSource();
        using IDisposable exitHandlers = ProcessTracker.InstallExitHandlers(onInterrupt: interrupted.Cancel, afterKills: LabNetwork.DisposeAll);
        var results = new List<ScenarioResult>();
        var clock = Stopwatch.StartNew();
        foreach (Scenario scenario in selected)
        {
            if (interrupted.IsCancellationRequested)
            {
                break;
            }

            output.WriteLine();
            output.WriteLine(ProgressLine.Format(results.Count + 1, selected.Count, scenario.Name, clock.Elapsed));
            results.Add(await RunAsync(scenario, interrupted.Token));
        }

        IReadOnlyList<string>? score = rubric?.Score(results);
        ScenarioReport.WriteSummary(output, results, clock.Elapsed, score);
        if (interrupted.IsCancellationRequested && results.Count < selected.Count)
        {
            output.WriteLine($"interrupted: {selected.Count - results.Count} scenario(s) not run");
        }

        (string markdown, string json) = ScenarioReport.Save(results, clock.Elapsed, reportPath, score);
        output.WriteLine($"report: {markdown} (and {Path.GetFileName(json)})");
        int failures = results.Count(result => result.Outcome == ScenarioOutcome.Fail);
        return interrupted.IsCancellationRequested ? Math.Max(failures, 1) : failures;
    }

    public async Task<ScenarioResult> RunAsync(Scenario scenario, CancellationToken cancellationToken = default)
    {
        var narrator = new Narrator(output);
        var clock = Stopwatch.StartNew();
        output.WriteLine();
        output.WriteLine($"=== {scenario.Name} ===");
        output.WriteLine($"    demonstrates: {scenario.Demonstrates}");
        output.WriteLine($"    requirement:  {scenario.Requirement}");

        if (scenario.NeedsPosixSignals && !ProcessSignals.AreSupported)
        {
            const string skipReason = "needs Ctrl+C/SIGTERM delivered to a child process, which Windows cannot do";
            output.WriteLine($"SKIP: {skipReason}");
            return new ScenarioResult(scenario.Name, scenario.Requirement, ScenarioOutcome.Skip, skipReason, clock.Elapsed, narrator.Lines, []);
        }

        if (scenario.NeedsNetwork && LabNetwork.UnsupportedReason() is { } networkReason)
        {
            output.WriteLine($"SKIP: {networkReason}");
            return new ScenarioResult(scenario.Name, scenario.Requirement, ScenarioOutcome.Skip, networkReason, clock.Elapsed, narrator.Lines, []);
        }

        if (scenario.MissingPrerequisite?.Invoke() is { } missing)
        {
            output.WriteLine($"SKIP: {missing}");
            return new ScenarioResult(scenario.Name, scenario.Requirement, ScenarioOutcome.Skip, missing, clock.Elapsed, narrator.Lines, []);
        }

        if (ForeignSkipReason(scenario, _foreign) is { } foreignReason)
        {
            output.WriteLine($"SKIP: {foreignReason}");
            return new ScenarioResult(scenario.Name, scenario.Requirement, ScenarioOutcome.Skip, foreignReason, clock.Elapsed, narrator.Lines, []);
        }

        TimeSpan limit = scenario.MinimumTimeout is { } minimum && minimum > scenarioTimeout ? minimum : scenarioTimeout;
        string workDirectory = Path.Combine(Path.GetTempPath(), "rpclab-scenarios", $"{scenario.Name}-{Guid.NewGuid():N}"[..(scenario.Name.Length + 9)]);
        Directory.CreateDirectory(workDirectory);
        var processes = new ProcessGroup(workDirectory, narrator.Echo);
        using var scenarioCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ForeignPrograms foreign = _foreign.Only(scenario.Grades);
        await using ScenarioSandbox? sandbox = Sandbox is null || foreign.Kinds.Count == 0 ? null : ScenarioSandbox.Begin(Sandbox, scenario.Name);
        using var context = new ScenarioContext(narrator, programs, timings, workDirectory, processes, scenarioCancellation.Token, foreign)
        {
            ArtifactPrefix = ArtifactPrefix,
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

            TryDeleteDirectory(workDirectory);
        }

        var result = new ScenarioResult(scenario.Name, scenario.Requirement, outcome, reason, clock.Elapsed, narrator.Lines, processes.StartedProcessIds);
        output.WriteLine($"{result.Verdict}  ({clock.Elapsed.TotalSeconds:0.0} s)");
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
