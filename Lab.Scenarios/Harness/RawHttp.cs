using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Lab.Scenarios.Harness;

/// <summary>What the registry answered to a hand-written HTTP request (status 0 = it closed the connection without an answer).</summary>
internal sealed record RawHttpResponse(int Status, string Body)
{
    public override string ToString() => Status == 0 ? "connection closed without a response" : $"{Status} {Narrator.Shorten(Body)}";
}

/// <summary>
/// HTTP/1.1 written by hand on a TCP socket — like <c>curl</c> with no safety net — so the
/// bad-input scenario can send what a polite HTTP client never would: a body that is not JSON, no
/// body, a body far over the limit, a wrong method, bytes that are not HTTP at all.
/// </summary>
/// <example>
/// <code>
/// RawHttpResponse answer = await RawHttp.SendAsync(registry.Host, registry.Port, "POST", "/myRegistry/register", "{not json", timeout);
/// </code>
/// </example>
internal static partial class RawHttp
{
    /// <summary>
    /// Sends one request with <c>Connection: close</c> and reads the whole response. A null
    /// <paramref name="body"/> sends no body and no Content-Length.
    /// </summary>
    public static Task<RawHttpResponse> SendAsync(string host, int port, string method, string path, string? body, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var head = new StringBuilder()
            .Append($"{method} {path} HTTP/1.1\r\n")
            .Append($"Host: {host}:{port}\r\n")
            .Append("Connection: close\r\n");
        if (body is not null)
        {
            head.Append("Content-Type: application/json\r\n").Append($"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n");
        }

        head.Append("\r\n").Append(body);
        return SendBytesAsync(host, port, Encoding.UTF8.GetBytes(head.ToString()), timeout, cancellationToken);
    }

    /// <summary>Sends arbitrary bytes and reads until the server closes the connection.</summary>
    public static async Task<RawHttpResponse> SendBytesAsync(string host, int port, byte[] request, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(host), port), deadline.Token);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            try
            {
                await stream.WriteAsync(request, deadline.Token);
            }
            catch (IOException)
            {
                // A server may answer and close before reading a huge body: the answer is still there to read.
            }

            using var received = new MemoryStream();
            try
            {
                await stream.CopyToAsync(received, deadline.Token);
            }
            catch (IOException)
            {
                // Reset after the response was sent (unread request bytes): keep what arrived.
            }

            return Parse(Encoding.UTF8.GetString(received.ToArray()));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ScenarioFailedException($"the registry did not answer within {timeout.TotalSeconds:0.#} s");
        }
    }

    private static RawHttpResponse Parse(string response)
    {
        Match status = StatusLine().Match(response);
        if (!status.Success)
        {
            return new RawHttpResponse(0, response);
        }

        int bodyStart = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string head = bodyStart < 0 ? response : response[..bodyStart];
        string body = bodyStart < 0 ? "" : response[(bodyStart + 4)..];
        if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = Unchunk(body);
        }

        return new RawHttpResponse(int.Parse(status.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), body.Trim());
    }

    // "c6\r\n<198 bytes>\r\n0\r\n\r\n" -> the 198 bytes. Sizes count bytes; our bodies are ASCII JSON.
    private static string Unchunk(string chunked)
    {
        var body = new StringBuilder();
        int position = 0;
        while (position < chunked.Length)
        {
            int lineEnd = chunked.IndexOf("\r\n", position, StringComparison.Ordinal);
            if (lineEnd < 0
                || !int.TryParse(chunked.AsSpan(position, lineEnd - position).Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out int size)
                || size == 0)
            {
                break;
            }

            int start = lineEnd + 2;
            body.Append(chunked, start, Math.Min(size, chunked.Length - start));
            position = start + size + 2;
        }

        return body.ToString();
    }

    [GeneratedRegex(@"^HTTP/1\.[01] (\d{3})")]
    private static partial Regex StatusLine();
}
