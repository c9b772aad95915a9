using System.Dynamic;
using System.Text.Json;

namespace Lab.Client;

/// <summary>The lab's <c>__getattr__</c> proxy: any method called on it becomes a remote call, so
/// <c>lab.add(1, 2)</c> reads like a local call (lab requirements §6).</summary>
/// <remarks><para>
/// Positional arguments go to <c>method_args</c>; C# named arguments (<c>lab.add(1, 2, c: 5)</c>) go to
/// <c>method_kwargs</c>. The result comes back as a natural .NET value (<see cref="JsonValues.ToNatural"/>):
/// <c>long</c>, <c>double</c>, <c>string</c>, <c>bool</c>, <c>null</c>, a list or a dictionary. Errors are the
/// same typed exceptions as <see cref="RpcClient.CallAsync{T}"/>.</para>
/// <para>Like the lab's proxy, a call blocks until the reply is in. The typed async API is the real
/// interface; this face exists so the lab's examples read the same in C#.</para>
/// <example><code>
/// dynamic lab = client.AsDynamic();
/// long sum = lab.add(1, 2);        // 13
/// string greeting = lab.hi("bob"); // "hi bob, welcome"
/// </code></example></remarks>
public sealed class DynamicRpcProxy(RpcClient client) : DynamicObject
{
    public override bool TryInvokeMember(InvokeMemberBinder binder, object?[]? args, out object? result)
    {
        ArgumentNullException.ThrowIfNull(binder);
        args ??= [];

        // The binder lists the names of the trailing named arguments only.
        IReadOnlyList<string> names = binder.CallInfo.ArgumentNames;
        int positionalCount = args.Length - names.Count;
        object?[] positional = args[..positionalCount];
        Dictionary<string, object?>? named = names.Count == 0
            ? null
            : names.Select((name, index) => (name, value: args[positionalCount + index]))
                   .ToDictionary(pair => pair.name, pair => pair.value, StringComparer.Ordinal);

        // Blocking on the async call: Task.Run moves it to the thread pool first, so its continuations
        // never need the thread we block (a UI thread would otherwise deadlock). Every wait inside has
        // a timeout, so this cannot hang forever.
        Task<JsonElement> call = Task.Run(() => client.CallAsync<JsonElement>(binder.Name, positional, named));
        JsonElement value = call.GetAwaiter().GetResult();
        result = JsonValues.ToNatural(value);
        return true;
    }
}
