using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Lab.Registry;

/// <summary>
/// Gives an HTTP/1.0 POST or PUT without <c>Content-Length</c> the registry's JSON 400 instead of Kestrel's
/// empty one. HTTP/1.0 has no other way to end a request body, so Kestrel refuses such a request itself,
/// before any middleware runs; only a connection middleware sees it first. It peeks (consumes nothing) at
/// the first request head of each connection, which is the only request an HTTP/1.0 client normally sends.
/// </summary>
public static class Http10LengthGuard
{
    private const int MaxHead = 8192;
    private const string Error = """{"error":"an HTTP/1.0 POST or PUT needs a Content-Length header giving the body's size"}""";
    private static readonly byte[] Rejection = Encoding.ASCII.GetBytes(
        $"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {Error.Length}\r\nConnection: close\r\n\r\n{Error}");

    public static void UseHttp10LengthGuard(this ListenOptions listen, TimeSpan headTimeout) => listen.Use(next => async connection =>
    {
        // Bounded like Kestrel's own header wait; on timeout or a closed peer Kestrel takes over as usual.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        timeout.CancelAfter(headTimeout);
        while (true)
        {
            ReadResult read;
            try { read = await connection.Transport.Input.ReadAsync(timeout.Token); }
            catch (OperationCanceledException) { break; }
            string head = Encoding.Latin1.GetString(read.Buffer.Slice(0, Math.Min(read.Buffer.Length, MaxHead)));
            int line = head.IndexOf("\r\n", StringComparison.Ordinal), end = head.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            bool http10 = line >= 0 && head[..line].EndsWith(" HTTP/1.0", StringComparison.Ordinal);
            bool decided = read.IsCompleted || head.Length == MaxHead || end >= 0 || (line >= 0 && !http10);
            if (http10 && end >= 0
                && (head.StartsWith("POST ", StringComparison.Ordinal) || head.StartsWith("PUT ", StringComparison.Ordinal))
                && !head[line..end].Contains("\r\nContent-Length:", StringComparison.OrdinalIgnoreCase)
                && !head[line..end].Contains("\r\nTransfer-Encoding:", StringComparison.OrdinalIgnoreCase))
            {
                // Everything received is dropped, so closing does not reset the connection before the answer arrives.
                connection.Transport.Input.AdvanceTo(read.Buffer.End);
                await connection.Transport.Output.WriteAsync(Rejection, connection.ConnectionClosed);
                return;
            }

            connection.Transport.Input.AdvanceTo(read.Buffer.Start, decided ? read.Buffer.Start : read.Buffer.End);
            if (decided) { break; }
        }

        await next(connection);
    });
}
