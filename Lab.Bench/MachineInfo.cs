using System.Globalization;
using System.Runtime.InteropServices;

namespace Lab.Bench;

/// <summary>
/// The machine a benchmark ran on. Ratios only mean something next to it: the same code gives other
/// figures on another CPU, or on this one while someone else is compiling.
/// </summary>
/// <param name="Processors">Logical processors (what <c>nproc</c> prints).</param>
/// <param name="CpuModel">The "model name" line of /proc/cpuinfo.</param>
/// <param name="MemoryMiB">Total memory.</param>
/// <param name="Os">Operating system description.</param>
/// <param name="Runtime">.NET runtime description.</param>
public sealed record MachineInfo(int Processors, string CpuModel, long MemoryMiB, string Os, string Runtime)
{
    public static MachineInfo Current() => new(
        Environment.ProcessorCount,
        ReadProcField("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString(),
        ReadMemoryMiB(),
        RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription);

    /// <summary>The 1-minute load average (<c>uptime</c>), or null where /proc is missing.</summary>
    public static double? LoadAverage()
    {
        try
        {
            string first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.Parse(first, CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }

    public override string ToString() =>
        $"{Processors} logical CPUs ({CpuModel}), {MemoryMiB:N0} MiB RAM, {Os}, {Runtime}";

    private static long ReadMemoryMiB()
    {
        // "MemTotal:       24684212 kB"
        string? total = ReadProcField("/proc/meminfo", "MemTotal");
        return total is not null && long.TryParse(total.Split(' ')[0], CultureInfo.InvariantCulture, out long kilobytes)
            ? kilobytes / 1024
            : 0;
    }

    private static string? ReadProcField(string path, string name)
    {
        try
        {
            foreach (string line in File.ReadLines(path))
            {
                int colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && line[..colon].Trim() == name)
                {
                    return line[(colon + 1)..].Trim();
                }
            }
        }
        catch (IOException)
        {
            // Not Linux: the caller falls back.
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }
}
