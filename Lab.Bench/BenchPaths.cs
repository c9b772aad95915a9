namespace Lab.Bench;

/// <summary>
/// Where the programs the benchmark starts live: the repository root found above this program, and
/// the built <c>Lab.Server</c>, <c>Lab.Registry</c> and <c>Lab.Bench</c> of the same configuration
/// (<c>dotnet run -c Release --project Lab.Bench</c> builds all three, in Release).
/// </summary>
/// <param name="Root">The repository root (the folder holding RpcLab.sln).</param>
/// <param name="Configuration">Release or Debug: the configuration this program was built in.</param>
public sealed record BenchPaths(string Root, string Configuration)
{
    private const string SolutionFile = "RpcLab.sln";
    private const string TargetFramework = "net10.0";

    public string ServerDll => ProgramDll("Lab.Server");

    public string RegistryDll => ProgramDll("Lab.Registry");

    public string BenchDll => Path.Combine(AppContext.BaseDirectory, "Lab.Bench.dll");

    /// <summary>Finds the repository from this program's own location.</summary>
    /// <exception cref="InvalidOperationException">Not run from a build inside the repository.</exception>
    public static BenchPaths Locate()
    {
        // .../Lab.Bench/bin/Release/net10.0/ -> "Release"
        string binary = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        string configuration = Path.GetFileName(Path.GetDirectoryName(binary)) ?? "Release";
        for (DirectoryInfo? directory = new(binary); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, SolutionFile)))
            {
                return new BenchPaths(directory.FullName, configuration);
            }
        }

        throw new InvalidOperationException($"{SolutionFile} not found above {binary}; run the benchmark from its build in the repository");
    }

    /// <summary>Checks that the programs to start have been built.</summary>
    /// <exception cref="FileNotFoundException">A program is missing, with the command that builds it.</exception>
    public void EnsureBuilt()
    {
        foreach (string dll in new[] { ServerDll, RegistryDll })
        {
            if (!File.Exists(dll))
            {
                throw new FileNotFoundException(
                    $"{dll} is missing; build it with: dotnet build -c {Configuration} {Path.GetFileNameWithoutExtension(dll)}");
            }
        }
    }

    private string ProgramDll(string project) =>
        Path.Combine(Root, project, "bin", Configuration, TargetFramework, project + ".dll");
}
