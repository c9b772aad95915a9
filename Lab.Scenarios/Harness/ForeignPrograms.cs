using System.Globalization;

namespace Lab.Scenarios.Harness;

/// <summary>
/// Programs from another implementation of the lab (a student's, or the course's own Python ones)
/// that stand in for our registry, server or client, so the scenarios grade them.
/// </summary>
/// <remarks>
/// <para>
/// Each is a command template run through the platform shell, with placeholders filled per start:
/// <c>{host}</c> <c>{port}</c> (where the program listens, or for a client the server to dial),
/// <c>{registry_host}</c> <c>{registry_port}</c>, <c>{config}</c> (the scenario's INI file) and
/// <c>{workdir}</c> (a fresh directory the command starts in, so relative paths start there too),
/// <c>{cwd}</c> (the directory the runner was started from: <c>python3 {cwd}/server.py</c>) and, for
/// a client, <c>{mode}</c> (<c>server</c> or <c>registry</c>).
/// </para>
/// <para>
/// On POSIX the command runs as <c>/bin/sh -c 'exec COMMAND'</c>: the shell replaces itself with the
/// program, so Ctrl+C, SIGTERM and kill -9 reach the program, not a shell left in between. A foreign
/// program prints nothing we understand, so it is ready when its port accepts connections (registry,
/// server) and graded only by what is observable: the wire, the registry API, exit codes, timings.
/// </para>
/// <example>
/// <code>
/// var foreign = new ForeignPrograms(null, "python3 lab_server.py -l {host} -p {port} -c {config}", null);
/// (string file, string[] args) = foreign.ShellCommand(LabProgram.Server, new() { ["host"] = "127.0.0.1", ["port"] = "8001" });
/// </code>
/// </example>
/// </remarks>
internal sealed record ForeignPrograms(string? RegistryCommand, string? ServerCommand, string? ClientCommand)
{
    public static readonly ForeignPrograms None = new(null, null, null);

    /// <summary>Every placeholder a command may use, without braces.</summary>
    public static readonly IReadOnlyList<string> Placeholders = ["host", "port", "registry_host", "registry_port", "config", "workdir", "cwd", "mode"];

    /// <summary>The kinds of program replaced by a foreign one.</summary>
    public IReadOnlyList<LabProgram> Kinds =>
        [.. Enum.GetValues<LabProgram>().Where(kind => Command(kind) is not null)];

    public bool Replaces(LabProgram kind) => Command(kind) is not null;

    /// <summary>These programs with only the kinds in <paramref name="kinds"/> kept: what one scenario can grade (ours run in place of the rest).</summary>
    public ForeignPrograms Only(IEnumerable<LabProgram> kinds)
    {
        var keep = kinds.ToHashSet();
        return new ForeignPrograms(
            keep.Contains(LabProgram.Registry) ? RegistryCommand : null,
            keep.Contains(LabProgram.Server) ? ServerCommand : null,
            keep.Contains(LabProgram.Client) ? ClientCommand : null);
    }

    public string? Command(LabProgram kind) => kind switch
    {
        LabProgram.Registry => RegistryCommand,
        LabProgram.Server => ServerCommand,
        _ => ClientCommand,
    };

    /// <summary>The template of <paramref name="kind"/> with every <c>{name}</c> replaced.</summary>
    /// <exception cref="ArgumentException">The template uses a placeholder not in <paramref name="values"/>.</exception>
    public string Expand(LabProgram kind, IReadOnlyDictionary<string, string> values)
    {
        string command = Command(kind) ?? throw new InvalidOperationException($"no foreign {kind} command");
        foreach ((string name, string value) in values)
        {
            command = command.Replace("{" + name + "}", value, StringComparison.Ordinal);
        }

        int unknown = command.IndexOf('{', StringComparison.Ordinal);
        int close = unknown < 0 ? -1 : command.IndexOf('}', unknown);
        return close > unknown + 1 && command[(unknown + 1)..close].All(c => char.IsAsciiLetterLower(c) || c == '_')
            ? throw new ArgumentException($"the {kind.ToString().ToLowerInvariant()} command uses {command[unknown..(close + 1)]}; known placeholders: {string.Join(' ', values.Keys.Select(key => "{" + key + "}"))}")
            : command;
    }

    /// <summary>The executable and arguments that run <paramref name="command"/> through the platform shell.</summary>
    public static (string FileName, string[] Arguments) ShellCommand(string command) =>
        OperatingSystem.IsWindows()
            ? ("cmd.exe", ["/c", command])
            : ("/bin/sh", ["-c", "exec " + command]);

    /// <summary>The option each kind is given with, for messages: <c>--server-command</c>.</summary>
    public static string OptionName(LabProgram kind) => $"--{kind.ToString().ToLower(CultureInfo.InvariantCulture)}-command";
}
