using System.Net;
using System.Net.Sockets;
using System.Text;
using Lab.Tests.Registry;

namespace Lab.Tests.Registry;

/// <summary>
/// Our registry answers the simplest HTTP clients the lab's programs use: HTTP/1.0 without a Host
/// header, and one request per connection. Written as raw bytes, so nothing but the test decides
/// what goes on the wire.
/// </summary>
public class PlainHttpRegistryTests
{
    [Test]
    public async Task An_HTTP_1_0_register_without_Host_is_answered_and_the_body_ends_at_close()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        string body = RunningRegistry.Instance(8001);

        string answer = await registry.SendAndReadToCloseAsync($"POST /myRegistry/register HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");

        answer.ShouldStartWith("HTTP/1.1 200 OK\r\n");
        answer.ShouldNotContain("Transfer-Encoding", Case.Insensitive);
        answer.ShouldEndWith("""{"protocol":"json","host":"127.0.0.1","port":8001,"status":true,"parameters":{}}""");
        (await registry.FindAsync()).Select(instance => instance.Port).ShouldBe([8001]);
    }

    [Test]
    public async Task A_one_request_per_connection_client_gets_its_answer_and_the_connection_closed()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        await registry.RegisterAsync(8002);

        string answer = await registry.SendAndReadToCloseAsync("GET /myRegistry/findAllInstances?proto=json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");

        answer.ShouldStartWith("HTTP/1.1 200 OK\r\n");
        answer.ShouldContain("\"port\":8002");
    }
}
