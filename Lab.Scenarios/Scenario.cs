using Lab.Scenarios.Harness;

namespace Lab.Scenarios;

/// <summary>
/// One graded demo: it starts real processes, injects one fault, and checks what they print and
/// return. <see cref="Requirement"/> quotes the lab requirement (lab requirements §1 / §7) it demonstrates.
/// </summary>
/// <example>
/// <code>
/// new Scenario("direct-mode", "a client dials one server by address, no registry involved",
///     "lab requirements §6: two modes, server (direct) and registry", DirectModeAsync);
/// </code>
/// </example>
internal sealed record Scenario(string Name, string Demonstrates, string Requirement, Func<ScenarioContext, Task> RunAsync)
{
    /// <summary>
    /// The scenario stops a program with Ctrl+C / SIGTERM and checks it shut down gracefully; on
    /// Windows, which cannot send those to a child process, it is reported as SKIP.
    /// </summary>
    public bool NeedsPosixSignals { get; init; }

    /// <summary>The scenario builds a lab network of namespaces (Linux, root, iproute2); elsewhere it is reported as SKIP with the reason.</summary>
    public bool NeedsNetwork { get; init; }

    /// <summary>
    /// The kinds of foreign program (<c>--registry-command</c>...) this scenario can grade: its verdict
    /// for them comes only from the wire, the registry API, exit codes and timings. With any other
    /// foreign program it reports SKIP, because it reads our own program's log lines or command line.
    /// </summary>
    public IReadOnlyList<LabProgram> Grades { get; init; } = [];

    /// <summary>
    /// The scenario needs the machine to itself (it measures how much the machine can do): run side by
    /// side with others (<c>--parallel</c>), it waits until no other scenario runs, and none starts until it ends.
    /// </summary>
    public bool RunsAlone { get; init; }

    /// <summary>
    /// A longer limit than the runner's per-scenario timeout, for scenarios that run load for a while.
    /// Run side by side with others, these start first (<see cref="ScenarioLanes.LaneOrder"/>).
    /// </summary>
    public TimeSpan? MinimumTimeout { get; init; }

    /// <summary>Says why the scenario cannot run here (a program it needs is missing), or null: it is then reported as SKIP.</summary>
    public Func<string?>? MissingPrerequisite { get; init; }
}
