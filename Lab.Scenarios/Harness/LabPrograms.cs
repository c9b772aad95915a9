using System.Reflection;

namespace Lab.Scenarios.Harness;

/// <summary>The three programs a scenario runs.</summary>
internal enum LabProgram
{
    Registry,
    Server,
    Client,
}

/// <summary>
/// Finds the built registry, server and client so scenarios can start them as
/// <c>dotnet &lt;repo&gt;/Lab.X/bin/&lt;Configuration&gt;/net10.0/Lab.X.dll ARGS</c>.
/// </summary>
/// <remarks>
/// The repository root is the first directory above the runner that holds <c>RpcLab.sln</c>; the
/// configuration is the one the runner itself was built in (baked into the assembly by
/// Lab.Scenarios.csproj), so <c>dotnet run -c Release</c> runs the Release programs it just built.
/// <example>
/// <code>
/// var programs = LabPrograms.Locate();
/// string dll = programs.DllPath(LabProgram.Server);   // .../Lab.Server/bin/Debug/net10.0/Lab.Server.dll
/// </code>
/// </example>
/// </remarks>
internal sealed class LabPrograms
{
    public const string SolutionFileName = "RpcLab.sln";

    private LabPrograms(string repositoryRoot, string configuration, string dotnetHost)
    {
        RepositoryRoot = repositoryRoot;
        Configuration = configuration;
        DotnetHost = dotnetHost;
    }

    public string RepositoryRoot { get; }

    /// <summary>Debug or Release: the configuration the runner was built in.</summary>
    public string Configuration { get; }

    /// <summary>The <c>dotnet</c> executable that runs the programs (the one running us, when it is dotnet).</summary>
    public string DotnetHost { get; }

    /// <summary>Finds the repository and the programs.</summary>
    /// <exception cref="InvalidOperationException">No <c>RpcLab.sln</c> above the runner or the current directory.</exception>
    public static LabPrograms Locate()
    {
        string root = FindRepositoryRoot(AppContext.BaseDirectory)
            ?? FindRepositoryRoot(Directory.GetCurrentDirectory())
            ?? throw new InvalidOperationException($"cannot find {SolutionFileName} above {AppContext.BaseDirectory} or {Directory.GetCurrentDirectory()}");
        string configuration = typeof(LabPrograms).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(attribute => attribute.Key == "Configuration")?.Value ?? "Debug";
        return new LabPrograms(root, configuration, FindDotnetHost());
    }

    /// <summary>The program's project and assembly: Lab.Registry, Lab.Server, Lab.ClientApp (Lab.Client is the client's library).</summary>
    public static string ProjectName(LabProgram program) => program == LabProgram.Client ? "Lab.ClientApp" : $"Lab.{program}";

    /// <summary>The program's dll, e.g. <c>&lt;repo&gt;/Lab.Server/bin/Debug/net10.0/Lab.Server.dll</c>.</summary>
    public string DllPath(LabProgram program)
    {
        string project = ProjectName(program);
        return Path.Combine(RepositoryRoot, project, "bin", Configuration, "net10.0", $"{project}.dll");
    }

    /// <summary>Fails early, with the command that fixes it, when a program has not been built.</summary>
    public void EnsureBuilt()
    {
        foreach (LabProgram program in Enum.GetValues<LabProgram>())
        {
            string dll = DllPath(program);
            if (!File.Exists(dll))
            {
                throw new InvalidOperationException($"{dll} does not exist; build first: dotnet build -c {Configuration}");
            }
        }
    }

    private static string? FindRepositoryRoot(string start)
    {
        for (DirectoryInfo? directory = new(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, SolutionFileName)))
            {
                return directory.FullName;
            }
        }

        return null;
    }

    private static string FindDotnetHost()
    {
        // Under `dotnet Lab.Scenarios.dll` and `dotnet test` we are already running in dotnet.
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return current;
        }

        // `dotnet run` starts the apphost but tells it which dotnet the SDK used.
        string? fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk) ? fromSdk : "dotnet";
    }
}
