using System.CommandLine;
using System.Runtime.InteropServices;

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

    /// <summary>Exit code of a program stopped by Ctrl+C before it had anything to report (128 + SIGINT, as shells report it).</summary>
    public const int InterruptedExitCode = 130;

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

    /// <summary>
    /// Runs the parsed command with Ctrl+C (SIGINT) and SIGTERM cancelling the token its action gets:
    /// the action stops its work and returns its own exit code (a <c>--duration</c> run still prints
    /// its summary). A second signal is not caught, so it ends a program that does not stop at once.
    /// </summary>
    /// <remarks>
    /// System.CommandLine 2.0.0 does not do this itself: its <c>ProcessTerminationTimeout</c> is null by
    /// default (dotnet/command-line-api#2739, though documented as 2 s), so the signal's default action
    /// killed the process at once — exit 130, no summary. Set to a time, it would end the process with
    /// 130 whenever the action needs longer than that to finish, which a loaded machine can make happen.
    /// </remarks>
    public static async Task<int> InvokeStoppableAsync(ParseResult parseResult)
    {
        using var stopping = new CancellationTokenSource();
        int signals = 0;
        using PosixSignalRegistration onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using PosixSignalRegistration onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        return await parseResult.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, stopping.Token).ConfigureAwait(false);

        void Stop(PosixSignalContext context)
        {
            // The first signal is handled (the process goes on to stop in order); later ones take their default action.
            if (Interlocked.Increment(ref signals) == 1)
            {
                context.Cancel = true;
                stopping.Cancel();
            }
        }
    }
}
