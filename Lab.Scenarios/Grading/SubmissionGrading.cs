using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Grading;

/// <summary>
/// The child runner that grades one submission (<c>Lab.Scenarios grade-submission PLAN.json</c>):
/// the plain single-student run of chapter 13 — the student's commands in place of ours, the rubric's
/// scenarios one after another, a report with the score — with each foreign program started in the
/// submission's sandbox and a log per scenario. <see cref="ClassGrading"/> starts one per submission,
/// inside that submission's sandbox, with the copy of its folder as the working directory.
/// </summary>
/// <example>
/// <code>
/// int failures = await SubmissionGrading.RunAsync(SubmissionPlan.Load(planPath), Console.Out);
/// </code>
/// </example>
internal static class SubmissionGrading
{
    /// <summary>Runs the plan; returns the runner's exit code (the number of failed scenarios).</summary>
    public static async Task<int> RunAsync(SubmissionPlan plan, TextWriter output)
    {
        LabPrograms programs = LabPrograms.Locate();
        programs.EnsureBuilt();
        ScenarioTimings timings = ScenarioTimings.Load(plan.TimingsPath);
        Rubric? rubric = plan.RubricPath is null ? null : Rubric.Load(plan.RubricPath, ScenarioCatalog.All.Select(scenario => scenario.Name));
        Scenario[] selected = [.. plan.Scenarios.Select(name => ScenarioCatalog.Find(name) ?? throw new ArgumentException($"unknown scenario {name}"))];
        output.WriteLine($"grading {plan.Student} in {Directory.GetCurrentDirectory()}: {DescribePrograms(plan.Programs)}");
        output.WriteLine(plan.Sandbox is null ? "sandbox: none" : $"sandbox: uid {plan.Sandbox.Uid}, cgroup {plan.Sandbox.CgroupPath}, limits {plan.Sandbox.Limits}");
        var runner = new ScenarioRunner(programs, timings, TimeSpan.FromSeconds(plan.ScenarioTimeoutSeconds), output, plan.Programs)
        {
            ArtifactPrefix = Path.ChangeExtension(plan.ReportPath, null) + "-",
            Sandbox = plan.Sandbox,
            LogDirectory = plan.LogDirectory,
        };
        return await runner.RunAllAsync(selected, plan.ReportPath, rubric);
    }

    private static string DescribePrograms(ForeignPrograms programs) =>
        string.Join(", ", Enum.GetValues<LabProgram>().Select(kind => programs.Command(kind) is { } command
            ? $"{kind.ToString().ToLowerInvariant()}: {command}"
            : $"{kind.ToString().ToLowerInvariant()}: ours ({LabPrograms.ProjectName(kind)})"));
}
