namespace Lab.Scenarios.Grading;

/// <summary>
/// The fallback where no sandbox can be built (not Linux, not root): the submission is still graded
/// from a copy of its folder, so its own files stay as handed in, but its programs run as the
/// teaching assistant, on this machine's network, without limits (<see cref="SandboxRun.WhatIsNotContained"/>).
/// </summary>
/// <example>
/// <code>
/// using ISubmissionHost host = UnsandboxedSubmission.Create("rpclab-grading-4242-1", "alice", "class/alice");
/// </code>
/// </example>
internal sealed class UnsandboxedSubmission : ISubmissionHost
{
    private UnsandboxedSubmission(string directory)
    {
        Directory = directory;
    }

    /// <summary><c>&lt;temp&gt;/rpclab-grading-&lt;pid&gt;-&lt;run&gt;/&lt;student&gt;</c>.</summary>
    public string Directory { get; }

    public string CopyDirectory => Path.Combine(Directory, "submission");

    public string ScratchDirectory => Path.Combine(Directory, "tmp");

    public string OutputDirectory => Path.Combine(Directory, "out");

    public SandboxSettings? Settings => null;

    public IReadOnlyDictionary<string, string> LaunchEnvironment => new Dictionary<string, string>
    {
        ["TMPDIR"] = ScratchDirectory,
        ["TMP"] = ScratchDirectory,
        ["TEMP"] = ScratchDirectory,
    };

    /// <param name="runName">The run's folder name, unique on this machine (<c>rpclab-grading-&lt;pid&gt;-&lt;n&gt;</c>).</param>
    public static UnsandboxedSubmission Create(string runName, string slug, string submissionDirectory)
    {
        string root = Path.Combine(Path.GetTempPath(), runName, slug);
        var host = new UnsandboxedSubmission(root);
        System.IO.Directory.CreateDirectory(host.ScratchDirectory);
        System.IO.Directory.CreateDirectory(host.OutputDirectory);
        Copy(submissionDirectory, host.CopyDirectory);
        return host;
    }

    public (string FileName, string[] Arguments) LaunchCommand(string program, IReadOnlyList<string> arguments) => (program, [.. arguments]);

    public void Dispose()
    {
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }

        // The run's folder goes with its last submission.
        string? run = Path.GetDirectoryName(Directory);
        if (run is not null && System.IO.Directory.Exists(run) && !System.IO.Directory.EnumerateFileSystemEntries(run).Any())
        {
            System.IO.Directory.Delete(run);
        }
    }

    // A symbolic link is copied as a link, never followed: a link to a folder above would otherwise copy forever.
    private static void Copy(string from, string to)
    {
        System.IO.Directory.CreateDirectory(to);
        foreach (FileSystemInfo entry in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            string target = Path.Combine(to, entry.Name);
            if (entry.LinkTarget is { } link)
            {
                File.CreateSymbolicLink(target, link);
            }
            else if (entry is DirectoryInfo directory)
            {
                Copy(directory.FullName, target);
            }
            else
            {
                File.Copy(entry.FullName, target);
            }
        }
    }
}
