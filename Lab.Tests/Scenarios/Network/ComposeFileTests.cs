using Lab.Hosting;
using Lab.Scenarios.Harness;
using Lab.Scenarios.Network;

namespace Lab.Tests.Scenarios.Network;

/// <summary>
/// compose.yaml and the Dockerfile cannot be run here (no Docker), so they are checked the other
/// ways: every service's command goes through its program's own command-line parser, the file has
/// the lab's shape, and the image is multi-stage and runs as a non-root user.
/// </summary>
public class ComposeFileTests
{
    private static readonly string Root = ScenarioTestSupport.Programs.RepositoryRoot;

    private static IReadOnlyList<ComposeService> Services => ComposeFile.Load(Path.Combine(Root, ComposeFile.FileName));

    public static IEnumerable<TestCaseData> ServiceNames =>
        ComposeFile.Load(Path.Combine(ScenarioTestSupport.Programs.RepositoryRoot, ComposeFile.FileName))
            .Select(service => new TestCaseData(service.Name).SetName($"Compose_service_{service.Name.Replace('-', '_')}_command_is_accepted_by_its_program"));

    [Slow]
    [TestCaseSource(nameof(ServiceNames))]
    public async Task Service_command_is_accepted_by_its_programs_own_parser(string name)
    {
        ComposeService service = Services.Single(candidate => candidate.Name == name);

        (int exitCode, string error) = await ParseOnlyAsync(service.Program, service.Arguments);

        // A missing --config file is reported by the program's action, which runs only once the
        // command line parsed: exit 2 with this message means every argument was accepted.
        error.ShouldContain("configuration file not found", customMessage: error);
        exitCode.ShouldBe(LabCommandLine.ConfigurationErrorExitCode);
    }

    [Slow]
    [Test]
    public async Task The_parse_check_does_reject_an_unknown_flag()
    {
        (int exitCode, string error) = await ParseOnlyAsync(LabProgram.Server, ["-p", "8089", "--no-such-flag"]);

        exitCode.ShouldBe(1);
        error.ShouldContain("Unrecognized command or argument '--no-such-flag'");
    }

    [Test]
    public void Compose_has_a_registry_two_servers_and_clients_on_the_lab_range_in_host_order()
    {
        IReadOnlyList<ComposeService> services = Services;

        services.Count(service => service.Program == LabProgram.Registry).ShouldBe(1);
        services.Count(service => service.Program == LabProgram.Server).ShouldBe(2);
        services.Count(service => service.Program == LabProgram.Client).ShouldBeGreaterThanOrEqualTo(1);
        services.Select((service, index) => service.IPv4).ShouldBe(services.Select((_, index) => $"10.77.0.{11 + index}"));
        services.Select(service => service.IPv6).ShouldBe(services.Select((_, index) => $"fd00:77::{11 + index}"));
        ComposeFile.StartOrder(services)[0].Program.ShouldBe(LabProgram.Registry);
        services.Where(service => service.Program != LabProgram.Registry)
            .ShouldAllBe(service => service.Environment["RPCLAB_REGISTRY__HOST"] == services[0].IPv4);
    }

    [Test]
    public void Dockerfile_builds_with_the_SDK_and_runs_on_the_runtime_image_as_a_non_root_user()
    {
        string[] lines = File.ReadAllLines(Path.Combine(Root, "Dockerfile"));
        string[] stages = [.. lines.Where(line => line.StartsWith("FROM ", StringComparison.Ordinal))];

        stages.Length.ShouldBe(2);
        stages[0].ShouldContain("dotnet/sdk:10.0");
        stages[1].ShouldContain("dotnet/aspnet:10.0");
        string? user = lines.LastOrDefault(line => line.StartsWith("USER ", StringComparison.Ordinal));
        user.ShouldNotBeNull();
        user.ShouldNotBe("USER root");
        foreach (string project in new[] { "Lab.Registry", "Lab.Server", "Lab.ClientApp" })
        {
            lines.ShouldContain(line => line.Contains($"dotnet publish {project} ", StringComparison.Ordinal));
        }
    }

    private static async Task<(int ExitCode, string Error)> ParseOnlyAsync(LabProgram program, IReadOnlyList<string> arguments)
    {
        string missing = Path.Combine(Path.GetTempPath(), $"rpclab-no-such-config-{Guid.NewGuid():N}.ini");
        await using var group = new ProcessGroup(Path.GetTempPath(), onLine: null);
        ManagedProcess process = group.Start(program.ToString(), ScenarioTestSupport.Programs.DotnetHost,
            [ScenarioTestSupport.Programs.DllPath(program), .. arguments, "--config", missing]);
        int exitCode = await process.WaitForExitAsync(TestTimeouts.Unexpected);
        return (exitCode, string.Join('\n', process.Lines.Select(line => line.Text)));
    }
}
