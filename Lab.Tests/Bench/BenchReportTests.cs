using System.Text.Json;
using Lab.Bench;

namespace Lab.Tests.Bench;

public class BenchReportTests
{
    private static readonly BenchSettings Settings = new(3, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(10), "unused", new HashSet<string>());

    [Test]
    public void Latency_goal_passes_under_the_limit_and_fails_over_it()
    {
        BenchReport passing = Report(
            Measure(Workload.PersistentOneCaller, Target.Floor, 1000, latency: 100),
            Measure(Workload.PersistentOneCaller, Target.Server, 600, latency: 140));
        BenchReport failing = Report(
            Measure(Workload.PersistentOneCaller, Target.Floor, 1000, latency: 100),
            Measure(Workload.PersistentOneCaller, Target.Server, 500, latency: 200));

        passing.Goals().Single().Pass.ShouldBeTrue();
        failing.Goals().Single().ShouldSatisfyAllConditions(
            goal => goal.Pass.ShouldBeFalse(),
            goal => goal.Measured.ShouldBe("2.00x"));
    }

    [Test]
    public void Throughput_goal_compares_calls_per_second_with_the_floor()
    {
        BenchReport report = Report(
            Measure(Workload.PersistentHundred, Target.Floor, 10_000),
            Measure(Workload.PersistentHundred, Target.Server, 6_000));

        GoalResult goal = report.Goals().Single();

        goal.Measured.ShouldBe("0.60x");
        goal.Pass.ShouldBeFalse();
        report.AllGoalsPass.ShouldBeFalse();
    }

    [Test]
    public void Thousand_connection_goal_needs_zero_errors_and_a_small_working_set()
    {
        BenchReport report = Report(
            Measure(Workload.PersistentThousand, Target.Floor, 10_000),
            Measure(Workload.PersistentThousand, Target.Server, 9_000, errors: 1, workingSet: 150L * 1024 * 1024));

        IReadOnlyList<GoalResult> goals = report.Goals();

        goals.Count.ShouldBe(2);
        goals[0].Pass.ShouldBeFalse();
        goals[1].ShouldSatisfyAllConditions(goal => goal.Pass.ShouldBeTrue(), goal => goal.Measured.ShouldBe("150 MiB"));
    }

    [Test]
    public void Logging_goal_compares_information_with_warning_level()
    {
        BenchReport report = Report(
            Measure(Workload.PersistentTen, Target.Server, 8_500),
            Measure(Workload.PersistentTen, Target.ServerWarningLog, 10_000));

        report.Goals().Single().ShouldSatisfyAllConditions(
            goal => goal.Name.ShouldContain("logging"),
            goal => goal.Pass.ShouldBeFalse());
    }

    [Test]
    public void Control_line_pairs_the_server_with_its_twin_run_by_run()
    {
        // Drift between rotations (10,000 then 6,000 calls/s) hits both twins alike: the paired median
        // is 1.00x, where separate medians would depend on which runs happened to land where.
        var server = new Measurement(Workload.PersistentTen, Target.Server,
            [MeasurementTests.Run(10_000, 0, 100), MeasurementTests.Run(6_000, 0, 100), MeasurementTests.Run(6_300, 0, 100)], null);
        var twin = new Measurement(Workload.PersistentTen, Target.ServerTwin,
            [MeasurementTests.Run(10_000, 0, 100), MeasurementTests.Run(6_000, 0, 100), MeasurementTests.Run(9_000, 0, 100)], null);

        BenchReport.PairedRatio(server, twin).ShouldBe(1.0);
        Report(server, twin).ToMarkdown().ShouldContain("two identical Lab.Servers, 10 connections, median of 3 paired runs: 1.00x");
    }

    [Test]
    public void Latency_control_line_pairs_the_server_with_its_twin_and_shows_the_twin_against_the_floor()
    {
        // The twins' p50s agree run by run (1.00x), and the twin stands at 1.25x the floor: two estimates of one ratio.
        Measurement floor = OneCaller(Target.Floor, 40, 80, 60);
        Measurement twin = OneCaller(Target.ServerTwin, 50, 100, 75);
        Measurement server = OneCaller(Target.Server, 50, 100, 75);

        // The latencies go through the load generator's histogram, whose buckets are about 1 % wide.
        string control = Report(floor, twin, server).ToMarkdown().Split('\n').Single(line => line.StartsWith("Control for the 1-caller", StringComparison.Ordinal));
        control.ShouldSatisfyAllConditions(
            line => line.ShouldContain("two identical Lab.Servers, median of 3 paired runs: 1.00x;"),
            line => line.ShouldMatch(@"the twin measured 1\.2[456]x the floor's p50"));
    }

    [Test]
    public void Latency_goal_pools_the_pairs_of_the_server_and_its_twin()
    {
        // The server stands at 1.60x the floor in every rotation, its identical twin at 1.20x: the goal is judged on
        // all six pairs (median 1.40x), not on whichever process happened to run as "the server".
        Measurement floor = OneCaller(Target.Floor, 50, 100, 75);
        Measurement twin = OneCaller(Target.ServerTwin, 60, 120, 90);
        Measurement server = OneCaller(Target.Server, 80, 160, 120);

        GoalResult goal = Report(floor, twin, server).Goals().Single();

        goal.ShouldSatisfyAllConditions(
            () => goal.Name.ShouldContain("Lab.Server and its twin"),
            () => goal.Measured.ShouldBeOneOf("1.39x", "1.40x", "1.41x"),
            () => goal.Pass.ShouldBeTrue());
    }

    [Test]
    public void Ratios_to_the_floor_pair_runs_of_the_same_rotation()
    {
        // The machine is busier in the second rotation, and something disturbed the server's third run: the
        // paired median says 1.50x; separate medians (floor 60 µs, server 120 µs) would let that one run decide 2.00x.
        var floor = new Measurement(Workload.PersistentOneCaller, Target.Floor,
            [MeasurementTests.Run(10_000, 0, 40), MeasurementTests.Run(5_000, 0, 100), MeasurementTests.Run(8_000, 0, 60)], null);
        var server = new Measurement(Workload.PersistentOneCaller, Target.Server,
            [MeasurementTests.Run(6_000, 0, 60), MeasurementTests.Run(3_000, 0, 150), MeasurementTests.Run(4_000, 0, 120)], null);

        BenchReport report = Report(floor, server);

        // The latencies go through the load generator's histogram, whose buckets are about 1 % wide.
        report.Ratios(Workload.PersistentOneCaller, Target.Server)!.Value.ShouldSatisfyAllConditions(
            ratios => ratios.CallsPerSecond.ShouldBe(0.6, 0.001),
            ratios => ratios.P50.ShouldBe(1.5, 0.02));
        report.Goals().Single().Measured.ShouldBeOneOf("1.49x", "1.50x", "1.51x");
    }

    [Test]
    public void Markdown_shows_ratios_and_json_is_one_parseable_line()
    {
        BenchReport report = Report(
            Measure(Workload.PersistentTen, Target.Floor, 10_000),
            Measure(Workload.PersistentTen, Target.Server, 8_000));

        report.ToMarkdown().ShouldContain("| persistent, 10 connections, add(1, 2) | Lab.Server | 8,000 |");
        report.ToMarkdown().ShouldContain("0.80x");
        report.ToMarkdown().ShouldContain("| PASS |");
        string json = report.ToJson();
        json.ShouldNotContain("\n");
        using JsonDocument document = JsonDocument.Parse(json);
        document.RootElement.GetProperty("allGoalsPass").GetBoolean().ShouldBeTrue();
        document.RootElement.GetProperty("measurements")[1].GetProperty("callsPerSecondVsFloor").GetDouble().ShouldBe(0.8);
    }

    private static BenchReport Report(params Measurement[] measurements)
    {
        var report = new BenchReport(MachineInfo.Current(), Settings);
        report.Measurements.AddRange(measurements);
        return report;
    }

    // One run per rotation at these p50s, on the 1-caller workload (the calls/s do not matter here).
    private static Measurement OneCaller(Target target, params double[] p50s) =>
        new(Workload.PersistentOneCaller, target, [.. p50s.Select(p50 => MeasurementTests.Run(10_000, 0, p50))], null);

    private static Measurement Measure(Workload workload, Target target, double callsPerSecond, double latency = 100, long errors = 0, long? workingSet = null) =>
        new(workload, target, [MeasurementTests.Run(callsPerSecond, errors, latency)], workingSet);
}
