using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;

namespace Lab.Server;

/// <summary>
/// The server's meter, <c>RpcLab.Server</c>: calls by method and outcome, their duration, open
/// connections and bytes in and out. <c>dotnet-counters monitor --name Lab.Server --counters RpcLab.Server</c>
/// shows them live.
/// </summary>
/// <remarks>
/// Static, one set per process: a Lab.Server process runs one server. The totals that
/// <see cref="StampHeartbeat"/> reports are kept beside the instruments because a meter cannot be
/// read back by the code that writes it. Every member may be called concurrently.
/// </remarks>
public static class ServerMetrics
{
    public const string MeterName = "RpcLab.Server";

    /// <summary>Heartbeat parameter: calls answered since the server started.</summary>
    public const string CallsParameter = "calls";

    /// <summary>Heartbeat parameter: of those, the calls answered with an error code.</summary>
    public const string ErrorsParameter = "errors";

    /// <summary>Heartbeat parameter: calls per second since the previous heartbeat.</summary>
    public const string CallsPerSecondParameter = "calls_per_second";

    private static readonly Meter Meter = new(MeterName, typeof(ServerMetrics).Assembly.GetName().Version?.ToString());
    private static readonly Counter<long> Calls = Meter.CreateCounter<long>("rpclab.server.calls", "{call}", "Calls answered, by method and outcome (ok or the error code)");
    private static readonly Histogram<double> CallDuration = Meter.CreateHistogram<double>("rpclab.server.call.duration", "s", "Time from a request's last byte to its reply being ready");
    // Observed, not added to: a monitor attached later (dotnet-counters) still sees the current count.
    private static readonly ObservableUpDownCounter<long> OpenConnections = Meter.CreateObservableUpDownCounter(
        "rpclab.server.connections.open", () => Interlocked.Read(ref s_openConnections), "{connection}", "Client connections open now");
    private static readonly Counter<long> BytesReceived = Meter.CreateCounter<long>("rpclab.server.bytes.received", "By", "Request bytes read");
    private static readonly Counter<long> BytesSent = Meter.CreateCounter<long>("rpclab.server.bytes.sent", "By", "Reply bytes written");

    private static readonly Lock ReportLock = new();
    private static long s_openConnections;
    private static long s_calls;
    private static long s_errors;
    private static long s_reportedCalls;      // guarded by ReportLock
    private static long s_reportedTimestamp = Stopwatch.GetTimestamp();   // guarded by ReportLock

    /// <summary>One answered call (<paramref name="errorCode"/> null for success), its request and reply sizes.</summary>
    public static void CallAnswered(string method, object? errorCode, TimeSpan duration, long bytesIn, long bytesOut)
    {
        string outcome = errorCode?.ToString() ?? "ok";
        var tags = new TagList { { "method", method }, { "outcome", outcome } };
        Calls.Add(1, tags);
        CallDuration.Record(duration.TotalSeconds, tags);
        BytesReceived.Add(bytesIn);
        BytesSent.Add(bytesOut);
        Interlocked.Increment(ref s_calls);
        if (errorCode is not null)
        {
            Interlocked.Increment(ref s_errors);
        }
    }

    /// <summary>A connection opened (+1) or closed (-1).</summary>
    public static void ConnectionChanged(int delta) => Interlocked.Add(ref s_openConnections, delta);

    /// <summary>
    /// Writes the call totals and the rate since the previous heartbeat into a heartbeat's
    /// <c>parameters</c>, so the registry's dashboard can show what each server is doing. Other
    /// parameters (<c>weight</c>) are left alone.
    /// </summary>
    public static void StampHeartbeat(IDictionary<string, JsonElement> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        long calls = Interlocked.Read(ref s_calls);
        double perSecond;
        lock (ReportLock)
        {
            double seconds = Stopwatch.GetElapsedTime(s_reportedTimestamp).TotalSeconds;
            perSecond = seconds > 0 ? (calls - s_reportedCalls) / seconds : 0;
            (s_reportedCalls, s_reportedTimestamp) = (calls, Stopwatch.GetTimestamp());
        }

        parameters[CallsParameter] = JsonSerializer.SerializeToElement(calls);
        parameters[ErrorsParameter] = JsonSerializer.SerializeToElement(Interlocked.Read(ref s_errors));
        parameters[CallsPerSecondParameter] = JsonSerializer.SerializeToElement(Math.Round(perSecond, 1));
    }
}
