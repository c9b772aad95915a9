using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Lab.Testing;

/// <summary>
/// Sends a real POSIX signal to another process — what a terminal does on Ctrl+C (SIGINT) and what
/// a service manager or <c>kill PID</c> does (SIGTERM). .NET's <see cref="Process"/> can only kill
/// (SIGKILL); the graceful-stop scenarios need the program to <i>see</i> the signal and shut down.
/// </summary>
/// <remarks>
/// Windows has no signals: a console program receives Ctrl+C only from the console it shares with
/// the sender, and a child started with redirected streams has no window to close. There the best
/// the OS allows is <see cref="Process.CloseMainWindow"/>, which a console program ignores, so
/// scenarios that depend on a graceful stop report SKIP on Windows instead of a false FAIL
/// (a scenario's <c>NeedsPosixSignals</c>).
/// <example>
/// <code>
/// if (ProcessSignals.AreSupported)
///     ProcessSignals.Send(server.Id, ProcessSignal.Interrupt);   // like Ctrl+C in its terminal
/// </code>
/// </example>
/// </remarks>
public static partial class ProcessSignals
{
    // Same numbers on Linux and macOS; SIGSTOP and SIGCONT differ (Linux 19 and 18, BSD/macOS 17 and 19).
    private const int SigInt = 2;
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private static readonly int SigStop = OperatingSystem.IsLinux() ? 19 : 17;
    private static readonly int SigCont = OperatingSystem.IsLinux() ? 18 : 19;

    /// <summary>True where real signals can be sent (Linux, macOS, other Unix).</summary>
    public static bool AreSupported => !OperatingSystem.IsWindows();

    /// <summary>
    /// True when this process ignores SIGINT, as a program started in the background by a non-interactive
    /// shell (<c>runner &amp;</c>, <c>nohup</c>) does; its children inherit that, and .NET keeps an inherited
    /// SIGINT ignored, so a child would shrug off the Ctrl+C a scenario sends it. Known on Linux only
    /// (the <c>SigIgn</c> mask of <c>/proc/self/status</c>); false elsewhere.
    /// </summary>
    public static bool InterruptIgnored { get; } = ReadInterruptIgnored();

    /// <summary>Delivers the signal to <paramref name="process"/>; on Windows, asks its main window to close.</summary>
    /// <exception cref="Win32Exception">kill(2) failed for another reason than "the process is already gone".</exception>
    public static void Send(Process process, ProcessSignal signal)
    {
        if (!AreSupported)
        {
            process.CloseMainWindow();
            return;
        }

        Send(process.Id, signal);
    }

    /// <summary>Delivers the signal to the process with this id (POSIX only): a process we did not start ourselves, say one found in a cgroup.</summary>
    /// <exception cref="Win32Exception">kill(2) failed for another reason than "the process is already gone".</exception>
    public static void Send(int processId, ProcessSignal signal)
    {
        int number = signal switch
        {
            ProcessSignal.Interrupt => SigInt,
            ProcessSignal.Kill => SigKill,
            ProcessSignal.Freeze => SigStop,
            ProcessSignal.Resume => SigCont,
            _ => SigTerm,
        };
        if (Kill(processId, number) != 0)
        {
            int error = Marshal.GetLastPInvokeError();
            // ESRCH (3): the process exited between our check and the signal — nothing left to stop.
            if (error != 3)
            {
                throw new Win32Exception(error, $"kill({processId}, {signal}) failed");
            }
        }
    }

    private static bool ReadInterruptIgnored()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        string? mask = File.ReadLines("/proc/self/status").FirstOrDefault(line => line.StartsWith("SigIgn:", StringComparison.Ordinal))?["SigIgn:".Length..].Trim();
        // Bit n-1 of the mask stands for signal n.
        return mask is not null && ulong.TryParse(mask, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out ulong ignored)
               && (ignored & (1UL << (SigInt - 1))) != 0;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>The signals the scenarios send: the two graceful stops, and freezing and resuming.</summary>
public enum ProcessSignal
{
    /// <summary>SIGINT, as Ctrl+C in the program's terminal.</summary>
    Interrupt,

    /// <summary>SIGTERM, as <c>kill PID</c> or a service manager stopping it.</summary>
    Terminate,

    /// <summary>SIGKILL (kill -9): the process ends at once and cannot catch it.</summary>
    Kill,

    /// <summary>SIGSTOP: the process stops running but keeps its sockets, which the kernel keeps accepting on.</summary>
    Freeze,

    /// <summary>SIGCONT: a frozen process runs again.</summary>
    Resume,
}
