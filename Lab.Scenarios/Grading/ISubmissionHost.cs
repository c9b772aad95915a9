namespace Lab.Scenarios.Grading;

/// <summary>
/// Where one submission is graded: a copy of its folder, a scratch folder, an output folder and the
/// command that starts its grader there. <see cref="SubmissionSandbox"/> contains it (Linux, root);
/// <see cref="UnsandboxedSubmission"/> is the fallback that contains nothing.
/// </summary>
internal interface ISubmissionHost : IDisposable
{
    /// <summary>The copy of the submission the programs run from; the grader starts in it, so it is their <c>{cwd}</c>.</summary>
    string CopyDirectory { get; }

    /// <summary>The grader's TMPDIR: its scenarios' work folders.</summary>
    string ScratchDirectory { get; }

    /// <summary>Where the grader writes its report and logs, and reads its plan.</summary>
    string OutputDirectory { get; }

    /// <summary>What the grader needs to sandbox each program it starts, or null: unsandboxed.</summary>
    SandboxSettings? Settings { get; }

    /// <summary>The environment the grader starts with.</summary>
    IReadOnlyDictionary<string, string> LaunchEnvironment { get; }

    /// <summary>The command that starts <paramref name="program"/> as this submission's grader.</summary>
    (string FileName, string[] Arguments) LaunchCommand(string program, IReadOnlyList<string> arguments);
}
