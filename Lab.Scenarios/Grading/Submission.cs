using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Grading;

/// <summary>
/// One student's submission: a folder of the class folder, named after the student, with a manifest
/// (<c>lab.ini</c>) naming the commands that run the student's registry, server and client.
/// </summary>
/// <remarks>
/// <para>The manifest, with the placeholders of <c>--server-command</c> (chapter 13):</para>
/// <code>
/// [programs]
/// registry = python3 {cwd}/registry.py -l {host} -p {port} -c {config}
/// server   = python3 {cwd}/server.py -l {host} -p {port} -c {config}
/// client   = python3 {cwd}/client.py -m {mode} -i {host} -p {port} -c {config}
/// </code>
/// <para>
/// <c>{cwd}</c> is the submission's folder (a copy of it, when sandboxed). A program left out, or
/// given as empty, is graded with ours in its place, and the gradebook says so. The file is read by
/// <see cref="SettingLines"/>, which keeps a command's own quotes for the shell.
/// </para>
/// <example>
/// <code>
/// IReadOnlyList&lt;Submission&gt; submissions = Submission.FindAll("class-2026/");
/// foreach (Submission submission in submissions) Console.WriteLine($"{submission.Name}: {submission.Describe()}");
/// </code>
/// </example>
/// </remarks>
internal sealed partial record Submission(string Name, string Slug, string Directory, ForeignPrograms Programs, string? ManifestError)
{
    public const string ManifestName = "lab.ini";

    /// <summary>Every sub-folder of <paramref name="classDirectory"/>, by name, as a submission (hidden folders skipped).</summary>
    /// <exception cref="DirectoryNotFoundException">The class folder does not exist.</exception>
    public static IReadOnlyList<Submission> FindAll(string classDirectory)
    {
        if (!System.IO.Directory.Exists(classDirectory))
        {
            throw new DirectoryNotFoundException($"the class folder {classDirectory} does not exist");
        }

        var slugs = new HashSet<string>(StringComparer.Ordinal);
        return [.. System.IO.Directory.GetDirectories(classDirectory)
            .Where(directory => !Path.GetFileName(directory).StartsWith('.'))
            .Order(StringComparer.Ordinal)
            .Select(directory => Load(directory, UniqueSlug(Path.GetFileName(directory), slugs)))];
    }

    /// <summary>Reads one submission's manifest; a manifest that cannot be used is kept as <see cref="ManifestError"/>, graded as zero.</summary>
    public static Submission Load(string directory, string slug)
    {
        string name = Path.GetFileName(directory.TrimEnd('/'));
        string manifest = Path.Combine(directory, ManifestName);
        if (!File.Exists(manifest))
        {
            return new Submission(name, slug, directory, ForeignPrograms.None, $"no {ManifestName} in {directory}");
        }

        try
        {
            return new Submission(name, slug, directory, ReadManifest(manifest), null);
        }
        catch (FormatException ex)
        {
            return new Submission(name, slug, directory, ForeignPrograms.None, ex.Message);
        }
    }

    /// <summary>The commands of a manifest.</summary>
    /// <exception cref="FormatException">A line is not <c>name = command</c>, names no program, or a command uses an unknown placeholder; the message names the file and line.</exception>
    public static ForeignPrograms ReadManifest(string path)
    {
        var commands = new Dictionary<LabProgram, string>();
        foreach (SettingLine line in SettingLines.Read(path))
        {
            if (line.Name is not ("registry" or "server" or "client") || !Enum.TryParse(line.Name, ignoreCase: true, out LabProgram kind))
            {
                throw new FormatException($"{line.Where}: expected \"registry|server|client = command\", got \"{line.Text}\"");
            }

            if (line.Value.Length > 0)
            {
                commands[kind] = line.Value;
            }
        }

        var programs = new ForeignPrograms(commands.GetValueOrDefault(LabProgram.Registry), commands.GetValueOrDefault(LabProgram.Server), commands.GetValueOrDefault(LabProgram.Client));
        foreach (LabProgram kind in programs.Kinds)
        {
            try
            {
                programs.Expand(kind, ForeignPrograms.Placeholders.ToDictionary(placeholder => placeholder, placeholder => placeholder));
            }
            catch (ArgumentException ex)
            {
                throw new FormatException($"{path}: {ex.Message}");
            }
        }

        return programs;
    }

    /// <summary>Which programs are the student's and which are ours: <c>registry: theirs, server: theirs, client: ours</c>.</summary>
    public string Describe() =>
        ManifestError ?? string.Join(", ", Enum.GetValues<LabProgram>().Select(kind => $"{kind.ToString().ToLowerInvariant()}: {(Programs.Replaces(kind) ? "theirs" : "ours")}"));

    // A name that can be part of a cgroup's, a folder's and a namespace's name: lower-case letters,
    // digits, dashes; made unique in the class by a number when two folders differ only in other characters.
    private static string UniqueSlug(string folderName, HashSet<string> taken)
    {
        string slug = UnsafeCharacters().Replace(folderName.ToLowerInvariant(), "-").Trim('-');
        slug = slug.Length == 0 ? "student" : slug[..Math.Min(slug.Length, 40)];
        string unique = slug;
        for (int n = 2; !taken.Add(unique); n++)
        {
            unique = $"{slug}-{n}";
        }

        return unique;
    }

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex UnsafeCharacters();
}
