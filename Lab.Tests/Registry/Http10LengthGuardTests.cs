using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Lab.Tests.Registry;

namespace Lab.Tests.Registry;

/// <summary>
/// HTTP/1.0 has no chunked bodies, so a POST without Content-Length cannot say where its body ends and
/// Kestrel refuses it before the registry's code runs. The registry still answers such a request, like
/// every other bad request, with a JSON error. Raw bytes on a real socket: nothing else decides the wire.
/// </summary>
public class Http10LengthGuardTests
{
    [Test]
    public async Task An_HTTP_1_0_POST_without_Content_Length_gets_a_JSON_400_naming_Content_Length()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        string answer = await registry.SendAndReadToCloseAsync("POST /myRegistry/register HTTP/1.0\r\nContent-Type: application/json\r\n\r\n" + RunningRegistry.Instance(8001));

        AssertJson400NamingContentLength(answer);
        (await registry.FindAsync()).ShouldBeEmpty();
        // The refused connection leaves the registry serving: the next request, on a new connection, registers.
        await registry.RegisterAsync(8002);
        (await registry.FindAsync()).Select(instance => instance.Port).ShouldBe([8002]);
    }

    [Test]
    public async Task A_request_head_arriving_in_pieces_is_still_recognised()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        string answer = await registry.SendAndReadToCloseAsync("POST /myRegistry/unregister HTT", "P/1.0\r\nHost: 127.0.0.1\r\n", "Content-Type: application/json\r\n\r\n");

        AssertJson400NamingContentLength(answer);
    }

    [Test]
    public async Task An_HTTP_1_0_POST_with_Content_Length_and_an_HTTP_1_0_GET_are_served()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        string body = RunningRegistry.Instance(8003);

        string post = await registry.SendAndReadToCloseAsync($"POST /myRegistry/register HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");
        string get = await registry.SendAndReadToCloseAsync("GET /myRegistry/findAllInstances?proto=json HTTP/1.0\r\n\r\n");

        post.ShouldStartWith("HTTP/1.1 200 OK\r\n");
        get.ShouldStartWith("HTTP/1.1 200 OK\r\n");
        get.ShouldEndWith("""[{"protocol":"json","host":"127.0.0.1","port":8003,"status":true,"parameters":{}}]""");
    }

    [Test]
    public async Task An_HTTP_1_1_POST_without_Content_Length_still_reaches_the_registry_handler()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        // HTTP/1.1 reads a missing length as an empty body, so the handler answers, naming the empty body.
        string answer = await registry.SendAndReadToCloseAsync("POST /myRegistry/register HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");

        answer.ShouldStartWith("HTTP/1.1 400 Bad Request\r\n");
        answer.ShouldNotContain("Content-Length header", Case.Insensitive);
        answer.ShouldContain("\"error\"");
    }

    private static void AssertJson400NamingContentLength(string answer)
    {
        answer.ShouldStartWith("HTTP/1.1 400 Bad Request\r\n");
        answer.ShouldContain("Content-Type: application/json", Case.Insensitive);
        string body = answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        using JsonDocument json = JsonDocument.Parse(body);
        json.RootElement.GetProperty("error").GetString()!.ShouldContain("Content-Length");
    }
}
