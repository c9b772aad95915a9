using System.Text.Json;

namespace Lab.Client.Cli;

/// <summary><c>Lab.Client add 1 2</c>: one call, its result and the server that answered on standard output
/// (<c>add(1, 2) = 13  [server 127.0.0.1:8089]</c>), or the error on standard error and exit code 1.</summary>
/// <example><code>
/// int exitCode = await OneCallRun.RunAsync(client, ["hi", "bob"], Console.Out, Console.Error);
/// // hi("bob") = "hi bob, welcome"  [server 127.0.0.1:8089]
/// </code></example>
public static class OneCallRun
{
    public static async Task<int> RunAsync(RpcClient client, IReadOnlyList<string> call, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentOutOfRangeException.ThrowIfZero(call.Count);
        string method = call[0];
        object?[] args = call.Skip(1).Select(CallText.ParseArgument).ToArray();
        string text = CallText.Call(method, args);
        try
        {
            RpcCallResult<JsonElement> result = await client.CallDetailedAsync<JsonElement>(method, args, cancellationToken: cancellationToken);
            await output.WriteLineAsync($"{text} = {CallText.Value(result.Value)}  [server {result.Server}]");
            return 0;
        }
        catch (RpcException ex)
        {
            await error.WriteLineAsync($"{text} failed: {CallText.Failure(ex)}");
            return 1;
        }
    }
}
