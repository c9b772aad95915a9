using Lab.Scenarios.Grading;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Scenarios.Grading;

[Parallelizable(ParallelScope.All)]
public class SubmissionTests
{
    [Test]
    public void A_manifest_names_the_students_programs_and_a_missing_one_is_ours()
    {
        using var folder = new TemporaryFolder();
        string alice = folder.Student("alice", "; alice's lab\n[programs]\nserver = python3 \"{cwd}/my server.py\" -p {port}\nclient =\n");

        Submission submission = Submission.Load(alice, "alice");

        submission.ManifestError.ShouldBeNull();
        submission.Programs.ShouldBe(new ForeignPrograms(null, "python3 \"{cwd}/my server.py\" -p {port}", null), "quotes reach the shell unchanged; an empty command means ours");
        submission.Describe().ShouldBe("registry: ours, server: theirs, client: ours");
    }

    [TestCase("server python3 s.py", "lab.ini:1: expected \"registry|server|client = command\", got \"server python3 s.py\"")]
    [TestCase("database = postgres", "lab.ini:1: expected \"registry|server|client = command\", got \"database = postgres\"")]
    [TestCase("1 = python3 s.py", "lab.ini:1: expected \"registry|server|client = command\", got \"1 = python3 s.py\"")]
    [TestCase("server = python3 s.py -p {prot}", "lab.ini: the server command uses {prot}; known placeholders:")]
    public void A_manifest_that_cannot_be_used_is_kept_as_the_reason_it_is_not_graded(string line, string message)
    {
        using var folder = new TemporaryFolder();
        string bob = folder.Student("bob", line + "\n");

        Submission submission = Submission.Load(bob, "bob");

        submission.ManifestError.ShouldNotBeNull().ShouldContain(message);
        submission.Describe().ShouldBe(submission.ManifestError);
    }

    [Test]
    public void A_folder_without_a_manifest_is_not_graded_and_says_why()
    {
        using var folder = new TemporaryFolder();
        string carol = Path.Combine(folder.Path, "carol");
        Directory.CreateDirectory(carol);

        Submission.Load(carol, "carol").ManifestError.ShouldBe($"no lab.ini in {carol}");
    }

    [Test]
    public void Every_sub_folder_is_a_submission_in_name_order_with_a_name_safe_for_cgroups_and_namespaces()
    {
        using var folder = new TemporaryFolder();
        folder.Student("Zoë Smith", "server = s\n");
        folder.Student("zo-smith", "server = s\n");
        folder.Student("adam", "server = s\n");
        Directory.CreateDirectory(Path.Combine(folder.Path, ".git"));
        File.WriteAllText(Path.Combine(folder.Path, "README.md"), "not a submission");

        IReadOnlyList<Submission> submissions = Submission.FindAll(folder.Path);

        submissions.Select(submission => submission.Name).ShouldBe(["Zoë Smith", "adam", "zo-smith"], "ordinal order: the same on every machine");
        submissions.Select(submission => submission.Slug).ShouldBe(["zo-smith", "adam", "zo-smith-2"], "two folders that differ only in characters a name cannot hold still get names of their own");
    }

    [Test]
    public void A_missing_class_folder_is_an_error_naming_it()
    {
        Should.Throw<DirectoryNotFoundException>(() => Submission.FindAll("/no/such/class"))
            .Message.ShouldBe("the class folder /no/such/class does not exist");
    }
}

/// <summary>A class folder of the test's own, deleted afterwards.</summary>
internal sealed class TemporaryFolder : IDisposable
{
    public TemporaryFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"rpclab-class-{Guid.NewGuid():N}"[..20]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>A student folder holding <paramref name="manifest"/> as its lab.ini; returns the folder.</summary>
    public string Student(string name, string manifest)
    {
        string folder = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(folder);
        File.WriteAllText(System.IO.Path.Combine(folder, Submission.ManifestName), manifest);
        return folder;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
