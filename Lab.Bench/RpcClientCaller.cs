using Lab.Client;

namespace Lab.Bench;

/// <summary>
/// A caller that goes through our own client, <see cref="RpcClient"/>: the typed
/// <c>CallAsync&lt;long&gt;("add", [1, 2])</c> or the lab-style dynamic proxy <c>lab.add(1, 2)</c>.
/// Measured against the same server as the raw-wire caller, the difference is the client's cost.
/// </summary>
/// <remarks>
/// <para>
/// No lab class; it plays the lab's client program. Every worker shares one <see cref="RpcClient"/>,
/// as an application would (its pool gives each concurrent call a connection of its own); the
/// benchmark disposes the client after the run, so a caller owns nothing.
/// </para>
/// <para>
/// The dynamic proxy blocks its thread until the reply is in, like the lab's proxy; it is only
/// measured with one caller, where a blocked thread costs no one else anything.
/// </para>
/// <example>
/// <code>
/// await using RpcClient client = RpcClient.Direct("127.0.0.1", port, settings);
/// LoadResult typed = await LoadRun.RunAsync(options, _ => new RpcClientCaller(client, useDynamicProxy: false));
/// </code>
/// </example>
/// </remarks>
public sealed class RpcClientCaller(RpcClient client, bool useDynamicProxy) : Caller
{
    private const long Expected = 13;

    // Built once: the arguments of add(1, 2), boxed a single time.
    private static readonly object?[] AddArguments = [1, 2];

    private readonly dynamic _proxy = client.AsDynamic();

    public override async ValueTask CallAsync(CancellationToken cancellationToken)
    {
        long sum = useDynamicProxy
            ? (long)_proxy.add(1, 2)
            : await client.CallAsync<long>("add", AddArguments, cancellationToken: cancellationToken);
        if (sum != Expected)
        {
            throw new InvalidDataException($"add(1, 2) returned {sum}, not {Expected}");
        }
    }
}
