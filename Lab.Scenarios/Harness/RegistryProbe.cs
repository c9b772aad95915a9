using System.Net.Http.Json;
using System.Text.Json;
using Lab.Protocol.Discovery;

namespace Lab.Scenarios.Harness;

/// <summary>
/// The harness's own look at the registry: <c>GET /myRegistry/findAllInstances?proto=json</c>, the
/// same request a client's discovery makes, so a check like "the killed server is gone" rests on
/// what the registry really answers, not on what a program logged.
/// </summary>
/// <example>
/// <code>
/// using var probe = new RegistryProbe(registry.BaseUri);
/// IReadOnlyList&lt;InstanceMeta&gt; instances = await probe.FindAllInstancesAsync(token);
/// </code>
/// </example>
internal sealed class RegistryProbe(Uri baseUri, HttpMessageHandler handler) : IDisposable
{
    // Every request on a deadline: a hung registry must fail the check, not hang the scenario.
    private readonly HttpClient _http = new(handler) { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(5) };

    public RegistryProbe(Uri baseUri)
        : this(baseUri, new SocketsHttpHandler())
    {
    }

    /// <summary>The healthy instances of protocol <c>json</c>.</summary>
    /// <exception cref="HttpRequestException">The registry is not answering.</exception>
    public async Task<IReadOnlyList<InstanceMeta>> FindAllInstancesAsync(CancellationToken cancellationToken = default)
    {
        using HttpResponseMessage response = await _http.GetAsync(new Uri("myRegistry/findAllInstances?proto=json", UriKind.Relative), cancellationToken);
        response.EnsureSuccessStatusCode();
        JsonElement body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        if (body.ValueKind != JsonValueKind.Array)
        {
            throw new ScenarioFailedException($"findAllInstances answered {body.ValueKind}, not a JSON array: {body}");
        }

        return [.. body.EnumerateArray().Select(InstanceMeta.Parse)];
    }

    /// <summary>The addresses (<c>host:port</c>) the registry lists, sorted.</summary>
    public async Task<IReadOnlyList<string>> ListedAddressesAsync(CancellationToken cancellationToken = default) =>
        [.. (await FindAllInstancesAsync(cancellationToken)).Select(instance => instance.Address).Order(StringComparer.Ordinal)];

    public void Dispose() => _http.Dispose();
}
