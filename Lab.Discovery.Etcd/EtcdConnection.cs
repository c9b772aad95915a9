using System.Text;
using dotnet_etcd;
using Google.Protobuf;
using Grpc.Core;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;

namespace Lab.Discovery.Etcd;

/// <summary>
/// What both etcd classes share: the gRPC connection to the cluster, the key layout, and the
/// deadline every call gets.
/// </summary>
/// <remarks>
/// Keys: <c>{etcd_prefix}/services/{protocol}/{host}:{port}</c>, the value is the instance's JSON —
/// the same fields the built-in registry lists — so <c>etcdctl get --prefix /rpclab</c> shows every
/// server. The connection balances over every endpoint (round robin), so a dead member is skipped.
/// </remarks>
internal static class EtcdConnection
{
    /// <summary>A client for the endpoints; plain HTTP/2 (the lab's etcd has no TLS).</summary>
    /// <param name="maxAnswerSize">Largest message read from etcd, in bytes (gRPC's own default is 4 MiB).</param>
    public static EtcdClient Connect(RegistrySettings registry, int? maxAnswerSize = null) =>
        new(string.Join(',', Endpoints(registry)), configureChannelOptions: options =>
        {
            options.Credentials = ChannelCredentials.Insecure;
            options.MaxReceiveMessageSize = maxAnswerSize ?? options.MaxReceiveMessageSize;
            // A watch is a long-lived stream: pings find a connection that died silently (a cut cable
            // sends no reset). Not more often than etcd's default minimum of 5 s, or it hangs up.
            options.HttpHandler = new SocketsHttpHandler
            {
                KeepAlivePingDelay = TimeSpan.FromSeconds(10),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
                EnableMultipleHttp2Connections = true,
            };
        });

    /// <summary>As logs show the cluster: <c>etcd http://127.0.0.1:2379</c>.</summary>
    public static string Describe(RegistrySettings registry) => "etcd " + string.Join(",", Endpoints(registry));

    /// <summary>The etcd_endpoints setting, split at its commas.</summary>
    public static string[] Endpoints(RegistrySettings registry) =>
        registry.EtcdEndpoints.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary><c>/rpclab/services/json/</c>: where every json server's key starts.</summary>
    public static string ServicesPrefix(RegistrySettings registry, string protocol) => $"{registry.EtcdPrefix}/services/{protocol}/";

    /// <summary><c>/rpclab/services/json/127.0.0.1:8001</c>.</summary>
    public static ByteString KeyOf(RegistrySettings registry, InstanceMeta instance) =>
        ByteString.CopyFromUtf8(ServicesPrefix(registry, instance.Protocol) + instance.Address);

    /// <summary>The end of the key range that holds every key starting with <paramref name="prefix"/>.</summary>
    public static ByteString RangeEnd(string prefix)
    {
        byte[] end = Encoding.UTF8.GetBytes(prefix);
        end[^1]++;   // the prefix ends in '/', so no carry
        return ByteString.CopyFrom(end);
    }

    /// <summary>A token cancelled by <paramref name="cancellationToken"/> or after <paramref name="timeout"/>.</summary>
    public static CancellationTokenSource Deadline(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        return deadline;
    }

    /// <summary>
    /// Runs one etcd call with a deadline; a deadline that fires becomes a <see cref="TimeoutException"/>
    /// naming the cluster, so the log says what timed out.
    /// </summary>
    public static async Task<T> WithDeadlineAsync<T>(string what, RegistrySettings registry, TimeSpan timeout,
        Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        using CancellationTokenSource deadline = Deadline(timeout, cancellationToken);
        try
        {
            return await call(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled or StatusCode.DeadlineExceeded }
                                   && deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{what}: no answer from {Describe(registry)} within {timeout.TotalSeconds:0.###} s", ex);
        }
    }
}
