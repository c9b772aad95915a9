using Lab.Scenarios.Harness;
using YamlDotNet.RepresentationModel;

namespace Lab.Scenarios.Network;

/// <summary>
/// One service of <c>compose.yaml</c>: which program it runs with which arguments (what follows the
/// dll in <c>command</c>), at which addresses, with which environment, and after whom.
/// </summary>
internal sealed record ComposeService(
    string Name,
    LabProgram Program,
    IReadOnlyList<string> Arguments,
    string IPv4,
    string? IPv6,
    IReadOnlyDictionary<string, string> Environment,
    IReadOnlyList<string> DependsOn);

/// <summary>
/// Reads the repository's <c>compose.yaml</c>, so the multi-host scenario runs the very services,
/// addresses, commands, environment and start order the containers would: Docker cannot run where
/// the scenarios are tested, and a compose file nobody runs goes stale without anyone noticing.
/// </summary>
/// <example>
/// <code>
/// IReadOnlyList&lt;ComposeService&gt; services = ComposeFile.Load(Path.Combine(repositoryRoot, "compose.yaml"));
/// foreach (ComposeService service in ComposeFile.StartOrder(services)) { ... }
/// </code>
/// </example>
internal static class ComposeFile
{
    public const string FileName = "compose.yaml";

    /// <summary>The services, in the order the file lists them.</summary>
    /// <exception cref="InvalidOperationException">The file does not describe a service the way the lab's programs are run.</exception>
    public static IReadOnlyList<ComposeService> Load(string path)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(path))
        {
            yaml.Load(reader);
        }

        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var services = (YamlMappingNode)root.Children[new YamlScalarNode("services")];
        return [.. services.Children.Select(pair => Service(path, ((YamlScalarNode)pair.Key).Value!, (YamlMappingNode)pair.Value))];
    }

    /// <summary>The services ordered so each starts after everything in its <c>depends_on</c> (file order otherwise).</summary>
    public static IReadOnlyList<ComposeService> StartOrder(IReadOnlyList<ComposeService> services)
    {
        var started = new List<ComposeService>();
        while (started.Count < services.Count)
        {
            ComposeService next = services.FirstOrDefault(service => !started.Contains(service) && service.DependsOn.All(name => started.Any(done => done.Name == name)))
                ?? throw new InvalidOperationException($"{FileName}: depends_on has a cycle or names a missing service");
            started.Add(next);
        }

        return started;
    }

    private static ComposeService Service(string path, string name, YamlMappingNode node)
    {
        string[] command = [.. Sequence(node, "command")];
        LabProgram program = command.Length >= 2 && command[0] == "dotnet"
            ? Enum.GetValues<LabProgram>().FirstOrDefault(candidate => command[1].EndsWith($"/{LabPrograms.ProjectName(candidate)}.dll", StringComparison.Ordinal), (LabProgram)(-1))
            : (LabProgram)(-1);
        if (!Enum.IsDefined(program))
        {
            throw new InvalidOperationException($"{path}: service {name}: command must be [\"dotnet\", \"/app/<program>/Lab.<Program>.dll\", ...], not [{string.Join(", ", command)}]");
        }

        var networks = (YamlMappingNode)node.Children[new YamlScalarNode("networks")];
        var lab = (YamlMappingNode)networks.Children.Single().Value;
        string ipv4 = Scalar(lab, "ipv4_address") ?? throw new InvalidOperationException($"{path}: service {name} has no ipv4_address");
        Dictionary<string, string> environment = node.Children.TryGetValue(new YamlScalarNode("environment"), out YamlNode? variables)
            ? ((YamlMappingNode)variables).Children.ToDictionary(pair => ((YamlScalarNode)pair.Key).Value!, pair => ((YamlScalarNode)pair.Value).Value ?? "")
            : [];
        return new ComposeService(name, program, command[2..], ipv4, Scalar(lab, "ipv6_address"), environment, [.. Sequence(node, "depends_on")]);
    }

    private static IEnumerable<string> Sequence(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? value) && value is YamlSequenceNode sequence
            ? sequence.Children.Select(item => ((YamlScalarNode)item).Value ?? "")
            : [];

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? value) ? ((YamlScalarNode)value).Value : null;
}
