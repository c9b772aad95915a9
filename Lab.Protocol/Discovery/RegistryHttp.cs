using System.Net.Http.Headers;
using System.Text.Json;

namespace Lab.Protocol.Discovery;

/// <summary>The registry API's requests as plain HTTP, shared by the server's and the client's
/// <c>RegistryClient</c>, so that any registry written from the lab's documents understands them.</summary>
/// <remarks>A registry built on Python's <c>http.server</c> reads exactly <c>Content-Length</c> bytes, so a body
/// is sent buffered with that header: never chunked (which such a registry cannot read) and never
/// with <c>Expect: 100-continue</c> (which it never answers). Replies are taken as a minimal server
/// writes them: HTTP/1.0 with the body ending at close, any or no <c>Content-Type</c>.
/// Stateless; safe to call concurrently on one <see cref="HttpClient"/>.</remarks>
public static class RegistryHttp
{
    /// <summary>POSTs <paramref name="instance"/> as JSON; the reply's body is not needed and may be anything.</summary>
    /// <exception cref="HttpRequestException">No connection, or an answer other than 2xx (the message holds its body).</exception>
    public static async Task PostAsync(HttpClient http, Uri uri, InstanceMeta instance, CancellationToken cancellationToken = default)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(instance, ProtocolJson.Options));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
        await SendAsync(http, request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>GETs <paramref name="uri"/> and parses the body as JSON, whatever its Content-Type says, with
    /// <see cref="ProtocolJson.ListOptions"/>: the caller reads each entry on its own.</summary>
    /// <exception cref="HttpRequestException">No connection, or an answer other than 2xx.</exception>
    /// <exception cref="JsonException">The body is not JSON.</exception>
    public static async Task<JsonDocument> GetJsonAsync(HttpClient http, Uri uri, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        byte[] body = await SendAsync(http, request, cancellationToken).ConfigureAwait(false);
        return JsonDocument.Parse(body, ProtocolJson.ListOptions);
    }

    /// <summary>How much of an error answer's body goes into the exception's message (and so into a log line).</summary>
    private const int MaxErrorTextLength = 300;

    private static async Task<byte[]> SendAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.ExpectContinue = false;
        // ResponseContentRead: the whole body is read here, also one that ends only when the server closes —
        // but never more than the HttpClient's MaxResponseContentBufferSize, which each owner sets: past it
        // the read fails with an HttpRequestException instead of filling this process's memory.
        using HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            // The registry's words, quoted in logs: shortened and printable (PeerText), whatever it sent.
            string text = PeerText.Printable(System.Text.Encoding.UTF8.GetString(body).Trim(), MaxErrorTextLength);
            throw new HttpRequestException($"the registry answered {(int)response.StatusCode} {PeerText.Printable(response.ReasonPhrase, 64)}{(text.Length > 0 ? ": " + text : "")}",
                inner: null, response.StatusCode);
        }

        return body;
    }
}
