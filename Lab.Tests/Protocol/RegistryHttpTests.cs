using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Lab.Protocol.Discovery;

namespace Lab.Tests.Protocol;

/// <summary>
/// The registry requests against a hand-written HTTP/1.0 server that behaves like Python's
/// <c>http.server</c>: it reads exactly Content-Length bytes and answers without Content-Length,
/// closing the connection to end the body.
/// </summary>
public class RegistryHttpTests
{
    private static readonly InstanceMeta Instance = new() { Host = "127.0.0.1", Port = 5555 };

    [Test]
    public async Task Post_sends_a_buffered_body_with_Content_Length_and_no_chunking_or_Expect()
    {
        using var server = new MinimalHttpServer("HTTP/1.0 200 OK\r\n\r\nOK");
        using var http = new HttpClient();

        Task<string> received = server.AnswerOneAsync();
        await RegistryHttp.PostAsync(http, new Uri(server.BaseUri, "myRegistry/register"), Instance, TestTimeouts.UnexpectedToken());
        string request = await received;

        request.ShouldStartWith("POST /myRegistry/register HTTP/1.1\r\n");
        string body = request[(request.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        request.ShouldContain($"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n", Case.Insensitive);
        request.ShouldNotContain("Transfer-Encoding", Case.Insensitive);
        request.ShouldNotContain("Expect:", Case.Insensitive);
        using JsonDocument sent = JsonDocument.Parse(body);
        InstanceMeta.Parse(sent.RootElement).Key.ShouldBe(Instance.Key);
    }

    [Test]
    public async Task Get_reads_an_HTTP_1_0_answer_without_Content_Length_or_Content_Type_and_with_extra_fields()
    {
        const string list = """[{"protocol": "json", "host": "127.0.0.1", "port": 5555, "status": true, "parameters": {"mode": "python"}, "last_seen": 1.5}]""";
        using var server = new MinimalHttpServer("HTTP/1.0 200 OK\r\nServer: BaseHTTP/0.6 Python/3.12\r\n\r\n" + list);
        using var http = new HttpClient();

        Task<string> received = server.AnswerOneAsync();
        using JsonDocument document = await RegistryHttp.GetJsonAsync(http, new Uri(server.BaseUri, "myRegistry/findAllInstances?proto=json"), TestTimeouts.UnexpectedToken());
        (await received).ShouldStartWith("GET /myRegistry/findAllInstances?proto=json HTTP/1.1\r\n");

        InstanceMeta found = InstanceMeta.Parse(document.RootElement[0]);
        found.Key.ShouldBe(Instance.Key);
        found.Parameters["mode"].GetString().ShouldBe("python");
    }

    [Test]
    public async Task An_error_status_throws_with_the_body_in_the_message()
    {
        using var server = new MinimalHttpServer("HTTP/1.0 400 Bad Request\r\n\r\n{\"error\": \"missing host\"}");
        using var http = new HttpClient();

        Task<string> received = server.AnswerOneAsync();
        var error = await Should.ThrowAsync<HttpRequestException>(
            () => RegistryHttp.PostAsync(http, new Uri(server.BaseUri, "myRegistry/register"), Instance, TestTimeouts.UnexpectedToken()));
        await received;

        error.Message.ShouldBe("the registry answered 400 Bad Request: {\"error\": \"missing host\"}");
    }

    /// <summary>Answers one request with a canned reply, then closes, as an HTTP/1.0 server does.</summary>
    private sealed class MinimalHttpServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly string _reply;

        public MinimalHttpServer(string reply)
        {
            _reply = reply;
            _listener.Start();
        }

        public Uri BaseUri => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

        /// <summary>Reads one request (headers, then exactly Content-Length bytes), answers, closes; returns the request.</summary>
        public async Task<string> AnswerOneAsync()
        {
            CancellationToken token = TestTimeouts.UnexpectedToken();
            using Socket socket = await _listener.AcceptSocketAsync(token);
            var received = new List<byte>();
            var buffer = new byte[4096];
            while (!IsComplete(received))
            {
                int read = await socket.ReceiveAsync(buffer, token);
                if (read == 0)
                {
                    break;
                }

                received.AddRange(buffer.AsSpan(0, read));
            }

            await socket.SendAsync(Encoding.UTF8.GetBytes(_reply), token);
            socket.Shutdown(SocketShutdown.Both);
            return Encoding.UTF8.GetString(received.ToArray());
        }

        public void Dispose() => _listener.Dispose();

        private static bool IsComplete(List<byte> received)
        {
            string text = Encoding.UTF8.GetString(received.ToArray());
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end < 0)
            {
                return false;
            }

            // Like http.server: the body is exactly Content-Length bytes, and no header means no body.
            string? length = text[..end].Split("\r\n")
                .FirstOrDefault(line => line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            int expected = length is null ? 0 : int.Parse(length["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            return received.Count - Encoding.UTF8.GetByteCount(text[..(end + 4)]) >= expected;
        }
    }
}
