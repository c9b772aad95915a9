using System.Text.Json;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Grading;

/// <summary>
/// What the class grader hands the child runner that grades one submission
/// (<c>Lab.Scenarios grade-submission PLAN.json</c>): the student's commands, the scenarios, where
/// the report and logs go, and the sandbox to start each foreign program in. Written as JSON into the
/// submission's root-only output folder.
/// </summary>
/// <param name="Student">The student's folder name, for the narration.</param>
/// <param name="RegistryCommand">The student's registry command, or null for ours (as for <c>--registry-command</c>).</param>
/// <param name="ServerCommand">The student's server command, or null for ours.</param>
/// <param name="ClientCommand">The student's client command, or null for ours.</param>
/// <param name="Scenarios">The scenarios to run, in order (the rubric's).</param>
/// <param name="RubricPath">The rubric, copied where the child can read it; its score ends the report.</param>
/// <param name="TimingsPath">The <c>--config</c> timings override, copied likewise, or null.</param>
/// <param name="ScenarioTimeoutSeconds">Each scenario's wall-clock limit.</param>
/// <param name="ReportPath">The Markdown report (a JSON twin goes next to it).</param>
/// <param name="LogDirectory">Where each scenario's log goes.</param>
/// <param name="Sandbox">The sandbox of this submission, or null when it runs unsandboxed.</param>
internal sealed record SubmissionPlan(
    string Student,
    string? RegistryCommand,
    string? ServerCommand,
    string? ClientCommand,
    IReadOnlyList<string> Scenarios,
    string? RubricPath,
    string? TimingsPath,
    double ScenarioTimeoutSeconds,
    string ReportPath,
    string LogDirectory,
    SandboxSettings? Sandbox)
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    public ForeignPrograms Programs => new(RegistryCommand, ServerCommand, ClientCommand);

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Options));

    /// <exception cref="InvalidDataException">The file is not a plan.</exception>
    public static SubmissionPlan Load(string path) =>
        JsonSerializer.Deserialize<SubmissionPlan>(File.ReadAllText(path), Options) ?? throw new InvalidDataException($"{path} holds no grading plan");
}
