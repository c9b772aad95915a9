using System.Xml.Linq;
using Lab.Scenarios.Harness;
using Lab.Tests.Scenarios;

namespace Lab.Tests.Hosting;

/// <summary><c>--version</c> on every program prints the one version set in Directory.Build.props.</summary>
[Slow]
public class VersionOptionTests
{
    private static string ProjectVersion =>
        XDocument.Load(Path.Combine(ScenarioTestSupport.Programs.RepositoryRoot, "Directory.Build.props"))
            .Descendants("Version").Single().Value;

    [TestCase("Lab.Registry")]
    [TestCase("Lab.Server")]
    [TestCase("Lab.ClientApp")]
    [TestCase("Lab.Scenarios")]
    [TestCase("Lab.Bench")]
    public async Task Version_option_prints_the_version_from_Directory_Build_props(string program)
    {
        string dll = Path.Combine(ScenarioTestSupport.Programs.RepositoryRoot, program, "bin", ScenarioTestSupport.Programs.Configuration, "net10.0", program + ".dll");
        await using var group = new ProcessGroup(Path.GetTempPath(), onLine: null);
        ManagedProcess process = group.Start(program, ScenarioTestSupport.Programs.DotnetHost, [dll, "--version"]);

        int exitCode = await process.WaitForExitAsync(TestTimeouts.Unexpected);

        exitCode.ShouldBe(0);
        ProjectVersion.ShouldMatch(@"^\d+\.\d+\.\d+");
        process.Lines.Select(line => line.Text).ShouldBe([ProjectVersion]);
    }
}
