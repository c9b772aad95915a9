using Lab.Scenarios.Harness;
using Lab.Scenarios.Scenarios;

namespace Lab.Scenarios;

/// <summary>
/// Every scenario, in the order a teaching assistant would demo them: first everything working,
/// then wrong input, concurrency, the registry failing, servers stopping, each timeout, and
/// finally the lab on several hosts with the network itself failing.
/// </summary>
/// <example>
/// <code>
/// foreach (Scenario scenario in ScenarioCatalog.All) Console.WriteLine(scenario.Name);
/// Scenario? happy = ScenarioCatalog.Find("happy-path");
/// </code>
/// </example>
internal static class ScenarioCatalog
{
    public static IReadOnlyList<Scenario> All { get; } =
    [
        .. HappyPathScenarios.All,
        .. BadInputScenarios.All,
        .. ConcurrencyScenarios.All,
        .. RegistryFaultScenarios.All,
        .. ServerStopScenarios.All,
        .. AvailabilityScenarios.All,
        .. ClientTimeoutScenarios.All,
        .. ServerTimeoutScenarios.All,
        .. MultiHostScenarios.All,
        .. PartitionScenarios.All,
        .. EtcdScenarios.All,
    ];

    /// <summary>The scenario with this name (case-insensitive), or null.</summary>
    public static Scenario? Find(string name) =>
        All.FirstOrDefault(scenario => scenario.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The <c>--list</c> output, one line a scenario: its name; R, S, C where it can grade a foreign
    /// registry, server, client (--registry/--server/--client-command); what it demonstrates; the requirement.
    /// Below it, indented, why it cannot grade the others (one line per reason).
    /// </summary>
    public static void WriteList(TextWriter output)
    {
        int width = All.Max(scenario => scenario.Name.Length);
        foreach (Scenario scenario in All)
        {
            string grades = string.Concat(Enum.GetValues<LabProgram>().Select(kind => scenario.Grades.Contains(kind) ? kind.ToString()[..1] : "-"));
            output.WriteLine($"{scenario.Name.PadRight(width)}  {grades}  {scenario.Demonstrates}  [{scenario.Requirement}]");
            foreach (IGrouping<string, LabProgram> reason in Enum.GetValues<LabProgram>().Where(kind => !scenario.Grades.Contains(kind)).GroupBy(scenario.WhyNotGraded))
            {
                output.WriteLine($"{new string(' ', width + 2)}{string.Concat(Enum.GetValues<LabProgram>().Select(kind => reason.Contains(kind) ? "-" : " "))}  "
                                 + $"not a foreign {string.Join(" or ", reason.Select(kind => kind.ToString().ToLowerInvariant()))}: {reason.Key}");
            }
        }
    }
}
