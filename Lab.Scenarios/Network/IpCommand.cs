using System.Diagnostics;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Network;

/// <summary>
/// Runs iproute2's <c>ip</c>: one command, or a batch of commands read from standard input
/// (<c>ip -n NS -b -</c>), so building a ten-host network costs a dozen processes, not hundreds.
/// </summary>
/// <example>
/// <code>
/// await IpCommand.RunAsync(["netns", "add", "rpclab-4242-1-br"], token);
/// await IpCommand.BatchAsync("rpclab-4242-1-h1", ["link set lo up", "addr add 10.77.0.11/24 dev eth0"], token);
/// </code>
/// </example>
internal static class IpCommand
{
    // ip answers in milliseconds; this only bounds a hung kernel call on a loaded machine.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <exception cref="InvalidOperationException">ip exited with an error; the message quotes the command and what ip printed.</exception>
    public static Task RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken = default) =>
        ExecuteAsync(arguments, input: null, cancellationToken);

    /// <summary>
    /// Runs <paramref name="commands"/> (one <c>ip</c> command each, without the leading <c>ip</c>)
    /// inside <paramref name="netns"/>, or in the machine's own namespace when null; with
    /// <paramref name="force"/> it keeps going after a failing line (teardown: delete whatever still exists).
    /// </summary>
    public static Task BatchAsync(string? netns, IReadOnlyList<string> commands, CancellationToken cancellationToken = default, bool force = false)
    {
        List<string> arguments = netns is null ? [] : ["-n", netns];
        if (force)
        {
            arguments.Add("-force");
        }

        arguments.AddRange(["-b", "-"]);
        return commands.Count == 0 ? Task.CompletedTask : ExecuteAsync(arguments, string.Join('\n', commands) + "\n", cancellationToken);
    }

    /// <summary>
    /// The same batch, run synchronously: a teardown must also work from a process-exit handler,
    /// where nothing can be awaited.
    /// </summary>
    public static void Batch(string? netns, IReadOnlyList<string> commands, bool force)
    {
        List<string> arguments = netns is null ? [] : ["-n", netns];
        if (force)
        {
            arguments.Add("-force");
        }

        arguments.AddRange(["-b", "-"]);
        using Process process = HostCommand.Start("ip", arguments);
        process.StandardInput.Write(string.Join('\n', commands) + "\n");
        process.StandardInput.Close();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill();
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)} did not finish within {Timeout.TotalSeconds:0} s");
        }

        // With force, a line about something already gone ("No such file or directory": a namespace
        // never created, or deleted by another clean-up) is expected; any other error is not.
        string[] errors = [.. stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !force || !(line.Contains("No such file", StringComparison.Ordinal) || line.StartsWith("Command failed", StringComparison.Ordinal)))];
        if (process.ExitCode != 0 && (!force || errors.Length > 0))
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed (exit {process.ExitCode}): {string.Join(" / ", errors)}");
        }
    }

    private static Task ExecuteAsync(IReadOnlyList<string> arguments, string? input, CancellationToken cancellationToken) =>
        HostCommand.RunAsync("ip", arguments, input, cancellationToken);
}
