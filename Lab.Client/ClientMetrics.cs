using System.Diagnostics.Metrics;

namespace Lab.Client;

/// <summary>
/// The client's meter, <c>RpcLab.Client</c>: calls by server and outcome, failovers to another
/// instance, and discovery refreshes (registry polls). Static, one set per process; thread-safe.
/// </summary>
public static class ClientMetrics
{
    public const string MeterName = "RpcLab.Client";

    private static readonly Meter Meter = new(MeterName, typeof(ClientMetrics).Assembly.GetName().Version?.ToString());
    private static readonly Counter<long> Calls = Meter.CreateCounter<long>("rpclab.client.calls", "{call}", "Calls finished, by server and outcome (ok or what went wrong)");
    private static readonly Counter<long> Failovers = Meter.CreateCounter<long>("rpclab.client.failovers", "{failover}", "Calls retried on another instance after one failed");
    private static readonly Counter<long> DiscoveryRefreshes = Meter.CreateCounter<long>("rpclab.client.discovery.refreshes", "{refresh}", "Registry polls, by outcome (ok or failed)");

    /// <summary>
    /// Awaits one call to <paramref name="server"/> and counts it: outcome <c>ok</c>, or the exception's
    /// kind (<c>RpcRemote</c> for an error reply, <c>RpcCallTimeout</c>, <c>RpcRead</c>...). Connect failures
    /// happen before the call, when its connection is rented, and are not counted here. Rethrows.
    /// </summary>
    public static async Task<T> CountAsync<T>(string server, Task<T> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        try
        {
            T value = await call.ConfigureAwait(false);
            CallFinished(server, "ok");
            return value;
        }
        catch (Exception ex)
        {
            CallFinished(server, ex.GetType().Name.Replace("Exception", "", StringComparison.Ordinal));
            throw;
        }
    }

    private static void CallFinished(string server, string outcome) =>
        Calls.Add(1, new KeyValuePair<string, object?>("server", server), new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>A call moves on from <paramref name="server"/> to another instance.</summary>
    public static void FailedOver(string server) => Failovers.Add(1, new KeyValuePair<string, object?>("server", server));

    /// <summary>One poll of the registry.</summary>
    public static void DiscoveryRefreshed(bool succeeded) =>
        DiscoveryRefreshes.Add(1, new KeyValuePair<string, object?>("outcome", succeeded ? "ok" : "failed"));
}
