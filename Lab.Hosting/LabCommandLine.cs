using System.CommandLine;

namespace Lab.Hosting;

/// <summary>What the three programs' command lines share: the <c>--config</c> flag and the rule that a fatal
/// fault ends the program with one clear line and a non-zero exit code — never a stack trace as the
/// only message (lab requirements §5).</summary>
public static class LabCommandLine
{
    /// <summary>Exit code for a bad configuration file or value.</summary>
    public const int ConfigurationErrorExitCode = 2;

    /// <summary>Exit code for any other fatal fault (port in use, bad address...).</summary>
    public const int FatalErrorExitCode = 1;

    /// <summary>The <c>--config PATH</c> option every program accepts.</summary>
    public static Option<string?> CreateConfigOption() => new("--config")
    {
        Description = "Configuration file (default: config.ini in the current directory or a parent)",
        HelpName = "PATH",
    };

    /// <summary>Runs a program's body and turns a fatal exception into one line on standard error:
    /// <c>Lab.Server: fatal: cannot listen on 127.0.0.1:8089: the address is already in use</c>.</summary>
    public static async Task<int> RunFatalSafeAsync(string programName, Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (ConfigurationException ex)
        {
            await Console.Error.WriteLineAsync($"{programName}: configuration error: {ex.Message}").ConfigureAwait(false);
            return ConfigurationErrorExitCode;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"{programName}: fatal: {ex.Message}").ConfigureAwait(false);
            return FatalErrorExitCode;
        }
    }
}
