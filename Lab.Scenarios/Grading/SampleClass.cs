using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Grading;

/// <summary>One kind of submission in the sample class, and what grading it should find.</summary>
/// <param name="Name">The student folder's name (with a number when the class has several copies).</param>
/// <param name="ServerScript">The broken or hostile server in <c>Grading/SampleClass/</c>, or null: the kind brings whole programs.</param>
/// <param name="Finding">What the gradebook should show for it.</param>
internal sealed record SampleKind(string Name, string? ServerScript, string Finding);

/// <summary>
/// Writes a class to grade (<c>Lab.Scenarios generate-class FOLDER</c>): our own programs run as a
/// student's, the Python peer's (<c>Lab.Tests/Interop/python</c>), and variants of the peer's server
/// that are broken (one connection at a time, never unregisters, ignores timeouts) or hostile (forks
/// without end, allocates without end, leaves a daemon, connects out, reads its neighbours). The
/// variants hand in only a server, so the grader runs our registry and client with them and says so.
/// </summary>
/// <example>
/// <code>
/// SampleClass.Write(LabPrograms.Locate(), "/srv/sample-class", copies: 2);   // 20 submissions
/// </code>
/// </example>
internal static class SampleClass
{
    public static readonly IReadOnlyList<SampleKind> Kinds =
    [
        new("ours", null, "every scenario passes: our registry, server and client, started through lab.ini like a student's"),
        new("python-peer", null, "the Python peer's known defects only (large-message, error-replies, bad-input-*)"),
        new("one-at-a-time", "one_at_a_time_server.py", "ten-concurrent-clients fails: the second connection waits for the first"),
        new("never-unregisters", "never_unregisters_server.py", "the shutdown scenarios fail: it stays listed after it stopped"),
        new("ignores-timeouts", "ignores_timeouts_server.py", "timeout-server-read fails: a stalled connection is never closed"),
        new("fork-bomb", "fork_bomb_server.py", "every scenario that starts its server fails: forked more than the process limit"),
        new("memory-hog", "memory_hog_server.py", "every scenario that starts its server fails: exceeded the memory limit"),
        new("leaves-daemon", "leaves_daemon_server.py", "every scenario that starts its server fails: left a process running"),
        new("connects-out", "connects_out_server.py", "every scenario that starts its server fails: tried to connect to 10.1.2.3:80"),
        new("reads-neighbour", "reads_neighbour_server.py", "graded like the Python peer; its log says it read none of its neighbours' files and wrote nothing"),
    ];

    private const string PythonArguments = "-l {host} -p {port} -c {config}";

    /// <summary>
    /// Writes <paramref name="copies"/> submissions of every kind (or of the kinds named in
    /// <paramref name="only"/>) into <paramref name="directory"/>; returns a line per submission.
    /// </summary>
    /// <exception cref="IOException">The folder exists and is not empty.</exception>
    public static IReadOnlyList<string> Write(LabPrograms programs, string directory, int copies, IReadOnlyList<string>? only = null)
    {
        directory = Path.GetFullPath(directory);
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            throw new IOException($"{directory} is not empty: generate-class writes a new class");
        }

        SampleKind[] kinds = [.. Kinds.Where(kind => only is null || only.Contains(kind.Name))];
        string[] names = [.. Enumerable.Range(1, copies).SelectMany(copy => kinds.Select(kind => copies == 1 ? kind.Name : $"{kind.Name}-{copy}"))];
        var lines = new List<string>();
        foreach (string name in names)
        {
            SampleKind kind = Kinds.Single(candidate => name == candidate.Name || name.StartsWith(candidate.Name + "-", StringComparison.Ordinal) && int.TryParse(name[(candidate.Name.Length + 1)..], out _));
            string folder = Path.Combine(directory, name);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, Submission.ManifestName), Manifest(programs, kind, directory, [.. names.Where(other => other != name)]));
            if (kind.Name == "ours")
            {
                // A submission hands in its programs: ours carries its build, as a student's would, so
                // the sandbox's uid runs it from its own copy wherever the repository lies (and whoever may read it).
                foreach (LabProgram program in Enum.GetValues<LabProgram>())
                {
                    CopyFolder(Path.GetDirectoryName(programs.DllPath(program))!, Path.Combine(folder, OursFolder(program)));
                }
            }
            else
            {
                foreach (string script in Directory.GetFiles(PythonPeerDirectory(programs), "lab_*.py"))
                {
                    File.Copy(script, Path.Combine(folder, Path.GetFileName(script)));
                }
            }

            if (kind.ServerScript is not null)
            {
                File.Copy(Path.Combine(programs.RepositoryRoot, "Lab.Scenarios", "Grading", "SampleClass", kind.ServerScript), Path.Combine(folder, kind.ServerScript));
            }

            lines.Add($"{folder}: {kind.Finding}");
        }

        return lines;
    }

    // registry/, server/, client/: where the "ours" submission keeps each program's build.
    private static string OursFolder(LabProgram program) => program.ToString().ToLowerInvariant();

    // "dotnet {cwd}/server/Lab.Server.dll": a program of the "ours" submission, run from its own copy.
    private static string OursCommand(LabProgram program) =>
        $"dotnet {{cwd}}/{OursFolder(program)}/{LabPrograms.ProjectName(program)}.dll";

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (string folder in Directory.GetDirectories(from))
        {
            CopyFolder(folder, Path.Combine(to, Path.GetFileName(folder)));
        }
    }

    /// <summary>The folder of the Python peer's programs.</summary>
    public static string PythonPeerDirectory(LabPrograms programs) => Path.Combine(programs.RepositoryRoot, "Lab.Tests", "Interop", "python");

    private static string Manifest(LabPrograms programs, SampleKind kind, string classDirectory, IReadOnlyList<string> neighbours)
    {
        if (kind.Name == "ours")
        {
            // "dotnet" from the system PATH: the sandbox gives programs the system's PATH, not root's.
            return $"""
                ; Our own programs, graded as if a student had handed them in.
                [programs]
                registry = {OursCommand(LabProgram.Registry)} -l {"{host}"} -p {"{port}"} --config {"{config}"}
                server = {OursCommand(LabProgram.Server)} -l {"{host}"} -p {"{port}"} --config {"{config}"}
                client = {OursCommand(LabProgram.Client)} -m {"{mode}"} -i {"{host}"} -p {"{port}"} --config {"{config}"}

                """;
        }

        if (kind.ServerScript is null)
        {
            return $"""
                ; The Python peer: the lab's three programs as its documents describe them.
                [programs]
                registry = python3 {"{cwd}"}/lab_registry.py {PythonArguments}
                server = python3 {"{cwd}"}/lab_server.py {PythonArguments}
                client = python3 {"{cwd}"}/lab_client.py -m {"{mode}"} -i {"{host}"} -p {"{port}"} -c {"{config}"}

                """;
        }

        string extra = kind.Name == "reads-neighbour" ? $" --class-folder {classDirectory} {string.Join(',', neighbours)}" : "";
        return $"""
            ; {kind.Finding}
            ; Only a server: the grader runs our registry and client in place of the others.
            [programs]
            server = python3 {"{cwd}"}/{kind.ServerScript}{extra} {PythonArguments}

            """;
    }
}
