using System.Globalization;
using System.Text;
using System.Text.Json;
using Lab.Protocol;

namespace Lab.Bench;

/// <summary>
/// Everything one benchmark run found, and the verdict on each performance goal, as a markdown table
/// (for people and docs/benchmark.md) and one JSON line (for scripts comparing runs).
/// </summary>
/// <example>
/// <code>
/// var report = new BenchReport(MachineInfo.Current(), settings);
/// report.Measurements.AddRange(measured);
/// Console.WriteLine(report.ToMarkdown());
/// </code>
/// </example>
public sealed class BenchReport(MachineInfo machine, BenchSettings settings)
{
    private const double MiB = 1024 * 1024;

    public MachineInfo Machine { get; } = machine;

    public BenchSettings Settings { get; } = settings;

    public DateTimeOffset Started { get; } = DateTimeOffset.UtcNow;

    public DateTimeOffset Finished { get; set; }

    public double? LoadBefore { get; init; }

    public double? LoadAfter { get; set; }

    /// <summary>The logging level the main Lab.Server ran at.</summary>
    public string ServerLogLevel { get; set; } = "Information";

    /// <summary>Log lines the main server wrote over all its workloads.</summary>
    public long ServerLogLines { get; set; }

    /// <summary>The main server's exit code after SIGTERM; null if it had to be killed.</summary>
    public int? ServerExitCode { get; set; }

    /// <summary>Whether the registry listed the main server just after it started, and after the last run.</summary>
    public bool RegisteredAtStart { get; set; }

    /// <inheritdoc cref="RegisteredAtStart"/>
    public bool RegisteredAtEnd { get; set; }

    public List<Measurement> Measurements { get; } = [];

    public bool AllGoalsPass => Goals().All(goal => goal.Pass);

    /// <summary>The performance goals, judged on the medians.</summary>
    public IReadOnlyList<GoalResult> Goals()
    {
        var goals = new List<GoalResult>();
        if (OneCallerP50Ratio() is { } oneCaller)
        {
            goals.Add(AtMost("persistent 1 caller add(1, 2): p50 latency vs floor (Lab.Server and its twin)", oneCaller, 1.5));
        }

        foreach (Workload workload in new[] { Workload.PersistentTen, Workload.PersistentHundred })
        {
            if (Ratios(workload, Target.Server) is { } ratios)
            {
                goals.Add(AtLeast($"{workload.Connections} connections: throughput vs floor", ratios.CallsPerSecond, 0.7));
            }
        }

        if (Find(Workload.PersistentThousand, Target.Server) is { } thousand)
        {
            goals.Add(new GoalResult("1,000 connections: errors", thousand.Errors.ToString(CultureInfo.InvariantCulture), "0", thousand.Errors == 0));
            double rss = (thousand.PeakWorkingSetBytes ?? 0) / MiB;
            goals.Add(new GoalResult("1,000 connections: Lab.Server peak working set", $"{rss:N0} MiB", "< 200 MiB",
                thousand.PeakWorkingSetBytes is not null && rss < 200));
        }

        if (Ratios(Workload.EchoOneMebibyte, Target.Server) is { } echo)
        {
            goals.Add(AtMost("1 MiB echo round trip: time vs floor", echo.P50, 2.0));
        }

        if (Find(Workload.PersistentTen, Target.Server) is { } informational
            && Find(Workload.PersistentTen, Target.ServerWarningLog) is { } quiet && quiet.CallsPerSecond > 0)
        {
            goals.Add(AtLeast("logging not the bottleneck: 10 connections at Information vs at Warning (median of paired runs)",
                PairedRatio(informational, quiet), 0.9));
        }

        return goals;
    }

    // One Lab.Server process's 1-caller p50 stays high or low for minutes: two identical servers measured 0.80x of
    // each other over 15 paired runs. So the goal pools the paired runs of both identical servers (the server and its
    // twin): a figure for Lab.Server rather than for one process of it. Without a twin, the server's pairs alone.
    private double? OneCallerP50Ratio()
    {
        if (Find(Workload.PersistentOneCaller, Target.Floor) is not { } floor || Find(Workload.PersistentOneCaller, Target.Server) is not { } server)
        {
            return null;
        }

        Measurement[] servers = Find(Workload.PersistentOneCaller, Target.ServerTwin) is { } twin ? [server, twin] : [server];
        double[] pairs = [.. servers.SelectMany(measured => RunRatios(measured, floor, run => run.P50Microseconds))];
        return pairs.Length > 0 ? Measurement.Median(pairs) : null;
    }

    /// <summary>The median of run-by-run calls/s ratios of two targets that ran back to back in each rotation.</summary>
    public static double PairedRatio(Measurement first, Measurement second) =>
        PairedRatio(first, second, run => run.CallsPerSecond);

    // Run i of each target ran in the same rotation, under the same load: the median of the pairwise
    // ratios cancels drift that separate medians would keep.
    private static double PairedRatio(Measurement first, Measurement second, Func<LoadResult, double> figure)
    {
        double[] pairs = [.. RunRatios(first, second, figure)];
        return pairs.Length > 0 ? Measurement.Median(pairs) : 0;
    }

    // first's run i over second's run i, for every rotation where second measured something.
    private static IEnumerable<double> RunRatios(Measurement first, Measurement second, Func<LoadResult, double> figure) =>
        first.Runs.Zip(second.Runs)
            .Where(pair => figure(pair.Second) > 0)
            .Select(pair => figure(pair.First) / figure(pair.Second));

    /// <summary>The target's figures as multiples of the floor's for the same workload: the median of the
    /// ratios of runs in the same rotation.</summary>
    public (double CallsPerSecond, double P50)? Ratios(Workload workload, Target target) =>
        Find(workload, target) is { } measured && Find(workload, Target.Floor) is { } floor
            && floor.CallsPerSecond > 0 && floor.P50Microseconds > 0
            ? (PairedRatio(measured, floor, run => run.CallsPerSecond), PairedRatio(measured, floor, run => run.P50Microseconds))
            : null;

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Run {Started:yyyy-MM-dd HH:mm} to {Finished:HH:mm} UTC on {Machine}.");
        text.AppendLine(CultureInfo.InvariantCulture, $"Load average (1 min, `uptime`): {Load(LoadBefore)} before, {Load(LoadAfter)} after.");
        text.AppendLine(CultureInfo.InvariantCulture, $"Lab.Server logging at {ServerLogLevel} (the default level), registry heartbeat on (every 1 s). " +
            $"Each figure is the median of {Settings.Runs} runs of {Settings.Duration.TotalSeconds:0.#} s (at least {Benchmark.LatencyGoalRuns} for the 1-caller workload, {Benchmark.PairedGoalRuns} for the 10- and 100-connection ones); " +
            $"each ratio to the floor is the median of the ratios of runs in the same rotation; errors are summed over the runs.");
        text.AppendLine();
        text.AppendLine("| Workload | Target | calls/s | p50 µs | p90 µs | p99 µs | errors | calls/s vs floor | p50 vs floor | peak RSS |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (Measurement m in Measurements)
        {
            (double CallsPerSecond, double P50)? ratios = m.Target == Target.Floor ? null : Ratios(m.Workload, m.Target);
            string rss = m.PeakWorkingSetBytes is { } bytes ? $"{bytes / MiB:N0} MiB" : "";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {m.Workload.Title} | {m.TargetName} | {m.CallsPerSecond:N0} | {m.P50Microseconds:N1} | {m.P90Microseconds:N1} | {m.P99Microseconds:N1} | {m.Errors} | " +
                $"{(ratios is { } r ? $"{r.CallsPerSecond:0.00}x" : "")} | {(ratios is { } q ? $"{q.P50:0.00}x" : "")} | {rss} |");
        }

        text.AppendLine();
        text.AppendLine("| Goal | Measured | Limit | Result |");
        text.AppendLine("|---|---:|---:|---|");
        foreach (GoalResult goal in Goals())
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {goal.Name} | {goal.Measured} | {goal.Limit} | {(goal.Pass ? "PASS" : "FAIL")} |");
        }

        text.AppendLine();
        foreach (Measurement m in Measurements.Where(m => m.Target is Target.RpcClientTyped or Target.RpcClientDynamic))
        {
            if (Find(m.Workload, Target.Server) is { } raw && raw.CallsPerSecond > 0)
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"Client cost, {m.TargetName}, {m.Workload.Title}: p50 {m.P50Microseconds:N1} µs against {raw.P50Microseconds:N1} µs over the raw wire " +
                    $"({m.P50Microseconds - raw.P50Microseconds:+0.0;-0.0} µs per call), {m.CallsPerSecond / raw.CallsPerSecond:0.00}x the raw-wire calls/s.");
            }
        }

        if (Find(Workload.PersistentTen, Target.Server) is { } informational && Find(Workload.PersistentTen, Target.ServerWarningLog) is { } quiet)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"Logging cost, 10 connections: {informational.CallsPerSecond:N0} calls/s at {ServerLogLevel} against {quiet.CallsPerSecond:N0} at Warning " +
                $"({(informational.CallsPerSecond / quiet.CallsPerSecond) - 1:+0.0%;-0.0%}).");
        }

        if (Find(Workload.PersistentTen, Target.Server) is { } measured && Find(Workload.PersistentTen, Target.ServerTwin) is { } twin && twin.CallsPerSecond > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"Control for the logging goal: two identical Lab.Servers, 10 connections, median of {Math.Min(measured.Runs.Count, twin.Runs.Count)} paired runs: " +
                $"{PairedRatio(measured, twin):0.00}x (the method is fair when this is close to 1.00x).");
        }

        if (Find(Workload.PersistentOneCaller, Target.Server) is { } alone && Find(Workload.PersistentOneCaller, Target.ServerTwin) is { } aloneTwin
            && Ratios(Workload.PersistentOneCaller, Target.ServerTwin) is { } twinRatios && aloneTwin.P50Microseconds > 0)
        {
            double twins = PairedRatio(alone, aloneTwin, run => run.P50Microseconds);
            text.AppendLine(CultureInfo.InvariantCulture,
                $"Control for the 1-caller p50 goal: two identical Lab.Servers, median of {Math.Min(alone.Runs.Count, aloneTwin.Runs.Count)} paired runs: " +
                $"{twins:0.00}x; the twin measured {twinRatios.P50:0.00}x the floor's p50 " +
                $"(the method resolves the goal when the first is close to 1.00x and the twin's ratio close to the server's).");
        }

        if (Find(Workload.NewConnectionTen, Target.Server) is { } chatty && Find(Workload.NewConnectionTen, Target.ServerWarningLog) is { } silent)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"Logging cost, new connection per call (two Information lines per call): {chatty.CallsPerSecond:N0} calls/s against {silent.CallsPerSecond:N0} at Warning " +
                $"({(chatty.CallsPerSecond / silent.CallsPerSecond) - 1:+0.0%;-0.0%}).");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"Registry: Lab.Server {(RegisteredAtStart ? "was" : "was NOT")} listed after it started and " +
            $"{(RegisteredAtEnd ? "was still" : "was NOT")} listed after the last run (entries without a heartbeat for 10 s are evicted).");
        text.AppendLine(CultureInfo.InvariantCulture, $"Lab.Server wrote {ServerLogLines:N0} log lines at {ServerLogLevel} over all its runs " +
            $"and exited with code {(ServerExitCode is { } code ? code.ToString(CultureInfo.InvariantCulture) : "none (killed)")} after SIGTERM.");
        foreach (Measurement m in Measurements.Where(m => m.FirstError is not null))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"First error, {m.Workload.Title} against {m.TargetName}: {m.FirstError}");
        }

        return text.ToString();
    }

    /// <summary>The whole report as one JSON line, prefixed <c>BENCH_JSON</c> on the console.</summary>
    public string ToJson() => JsonSerializer.Serialize(
        new
    {
        started = Started,
        finished = Finished,
        machine = new { processors = Machine.Processors, cpu = Machine.CpuModel, memoryMiB = Machine.MemoryMiB, os = Machine.Os, runtime = Machine.Runtime },
        loadBefore = LoadBefore,
        loadAfter = LoadAfter,
        serverLogLevel = ServerLogLevel,
        serverRegisteredAtStart = RegisteredAtStart,
        serverRegisteredAtEnd = RegisteredAtEnd,
        runs = Settings.Runs,
        windowSeconds = Settings.Duration.TotalSeconds,
        measurements = Measurements.Select(m => new
        {
            workload = m.Workload.Key,
            target = m.Target.ToString(),
            connections = m.Workload.Connections,
            payloadBytes = m.Workload.PayloadSize,
            newConnectionPerCall = m.Workload.NewConnectionPerCall,
            callsPerSecond = Math.Round(m.CallsPerSecond, 1),
            p50Us = Math.Round(m.P50Microseconds, 2),
            p90Us = Math.Round(m.P90Microseconds, 2),
            p99Us = Math.Round(m.P99Microseconds, 2),
            errors = m.Errors,
            peakWorkingSetBytes = m.PeakWorkingSetBytes,
            callsPerSecondVsFloor = m.Target == Target.Floor ? null : Ratios(m.Workload, m.Target)?.CallsPerSecond,
            p50VsFloor = m.Target == Target.Floor ? null : Ratios(m.Workload, m.Target)?.P50,
            runCallsPerSecond = m.Runs.Select(run => Math.Round(run.CallsPerSecond, 1)),
            runP50Us = m.Runs.Select(run => Math.Round(run.P50Microseconds, 2)),
        }),
        goals = Goals().Select(goal => new { name = goal.Name, measured = goal.Measured, limit = goal.Limit, pass = goal.Pass }),
        allGoalsPass = AllGoalsPass,
    },
        ProtocolJson.Options);

    public string ToJsonLine() => "BENCH_JSON " + ToJson();

    /// <summary>Writes latest.md and latest.json into <paramref name="directory"/>.</summary>
    public void WriteFiles(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "latest.md"), "# Lab.Bench: latest results" + Environment.NewLine + Environment.NewLine + ToMarkdown());
        File.WriteAllText(Path.Combine(directory, "latest.json"), ToJson() + Environment.NewLine);
    }

    private Measurement? Find(Workload workload, Target target) =>
        Measurements.FirstOrDefault(m => m.Workload.Key == workload.Key && m.Target == target);

    private static GoalResult AtMost(string name, double ratio, double limit) =>
        new(name, $"{ratio:0.00}x", $"<= {limit:0.0#}x", ratio <= limit);

    private static GoalResult AtLeast(string name, double ratio, double limit) =>
        new(name, $"{ratio:0.00}x", $">= {limit:0.0#}x", ratio >= limit);

    private static string Load(double? load) => load?.ToString("0.00", CultureInfo.InvariantCulture) ?? "unknown";
}
