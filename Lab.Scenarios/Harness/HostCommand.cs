using System.Diagnostics;

namespace Lab.Scenarios.Harness;

/// <summary>
/// Runs one of the system's own tools (<c>ip</c>, <c>nft</c>, <c>cp</c>, <c>chown</c>) and returns
/// what it printed; a failure is an exception that quotes the command, its input and its error.
/// </summary>
/// <example>
/// <code>
/// string json = await HostCommand.RunAsync("nft", ["-j", "list", "set", "inet", "rpclab_sandbox", "out4"]);
/// await HostCommand.RunAsync("nft", ["-f", "-"], input: ruleset);
/// </code>
/// </example>
internal static class HostCommand
{
    // These tools answer in milliseconds; the limit only bounds a hung kernel call on a loaded machine.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>True when <paramref name="tool"/> is found on PATH or in the system directories.</summary>
    public static bool Exists(string tool) => Locate(tool) is not null;

    /// <summary>The full path of <paramref name="tool"/>, or null.</summary>
    public static string? Locate(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/bin", "/sbin", "/bin"])
            .Select(directory => Path.Combine(directory, tool))
            .FirstOrDefault(File.Exists);

    /// <summary>Starts <paramref name="tool"/> with every stream redirected, for a caller that talks to it itself (a synchronous teardown).</summary>
    public static Process Start(string tool, IReadOnlyList<string> arguments)
    {
        var startInfo = new ProcessStartInfo(Locate(tool) ?? tool)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        return Process.Start(startInfo) ?? throw new InvalidOperationException($"could not start {tool} {string.Join(' ', arguments)}");
    }

    /// <exception cref="InvalidOperationException">The tool exited non-zero or did not finish in time; the message quotes it.</exception>
    public static async Task<string> RunAsync(string tool, IReadOnlyList<string> arguments, string? input = null, CancellationToken cancellationToken = default)
    {
        string shown = $"{tool} {string.Join(' ', arguments)}";
        using Process process = Start(tool, arguments);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.StandardInput.WriteAsync(input ?? "");
        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync(cancellationToken).WaitAsync(Timeout, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            process.Kill();
            throw new InvalidOperationException($"{shown} did not finish within {Timeout.TotalSeconds:0} s", ex);
        }

        await Task.WhenAll(stdout, stderr);
        string shownInput = input is null ? "" : $" <<< {input.Trim().Replace('\n', ';')}";
        return process.ExitCode == 0
            ? await stdout
            : throw new InvalidOperationException($"{shown}{shownInput} failed (exit {process.ExitCode}): {(await stderr).Trim()}");
    }
}
