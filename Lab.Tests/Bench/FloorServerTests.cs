using System.Net;
using System.Net.Sockets;
using System.Text;
using Lab.Bench;
using Lab.Tests.Support;

namespace Lab.Tests.Bench;

public class FloorServerTests
{
    [Test]
    public async Task Add_request_gets_the_fixed_reply()
    {
        await using FloorServer floor = StartFloor();
        using Socket client = await ConnectAsync(floor);

        await SendAsync(client, "{\"method_name\":\"add\",\"method_args\":[1,2]}\n");

        (await ReceiveAsync(client, "{\"res\": 13}\n".Length)).ShouldBe("{\"res\": 13}\n");
    }

    [Test]
    public async Task Echo_request_gets_its_payload_back_in_the_servers_reply_shape()
    {
        await using FloorServer floor = StartFloor();
        using Socket client = await ConnectAsync(floor);
        string payload = new('x', 100_000);

        await SendAsync(client, $"{{\"method_name\":\"echo\",\"method_args\":[\"{payload}\"],\"method_kwargs\":{{}}}}\n");

        string expected = $"{{\"res\":\"{payload}\"}}\n";
        (await ReceiveAsync(client, expected.Length)).ShouldBe(expected);
    }

    [Test]
    public async Task Two_requests_in_one_write_get_two_replies_in_order()
    {
        await using FloorServer floor = StartFloor();
        using Socket client = await ConnectAsync(floor);

        await SendAsync(client, "{\"method_name\":\"echo\",\"method_args\":[\"a\"]}{\"method_name\":\"add\",\"method_args\":[1,2]}");

        const string expected = "{\"res\":\"a\"}\n{\"res\": 13}\n";
        (await ReceiveAsync(client, expected.Length)).ShouldBe(expected);
    }

    [Test]
    public async Task Request_split_over_writes_is_answered_once_complete()
    {
        await using FloorServer floor = StartFloor();
        using Socket client = await ConnectAsync(floor);

        await SendAsync(client, "{\"method_name\":\"ad");
        await SendAsync(client, "d\",\"method_args\":[1,2]}");

        (await ReceiveAsync(client, "{\"res\": 13}\n".Length)).ShouldBe("{\"res\": 13}\n");
    }

    [Test]
    public async Task Stream_that_is_not_an_object_closes_the_connection()
    {
        await using FloorServer floor = StartFloor();
        using Socket client = await ConnectAsync(floor);

        await SendAsync(client, "[1, 2]\n");

        (await ReadUntilClosedAsync(client)).ShouldBe(0);
    }

    [Test]
    public async Task Half_a_request_then_silence_closes_the_connection_after_the_timeout()
    {
        await using FloorServer floor = StartFloor(TestTimeouts.Expected);
        using Socket client = await ConnectAsync(floor);

        await SendAsync(client, "{\"method_name\":");

        (await ReadUntilClosedAsync(client)).ShouldBe(0);
    }

    [Test]
    public async Task Dispose_closes_idle_connections_and_returns()
    {
        FloorServer floor = StartFloor();
        using Socket client = await ConnectAsync(floor);
        await SendAsync(client, "{\"method_name\":\"add\"}");
        await ReceiveAsync(client, "{\"res\": 13}\n".Length);

        await floor.DisposeAsync().AsTask().WaitAsync(TestTimeouts.Unexpected);

        (await ReadUntilClosedAsync(client)).ShouldBe(0);
    }

    internal static FloorServer StartFloor(TimeSpan? timeout = null) =>
        FloorServer.Start(new IPEndPoint(IPAddress.Loopback, 0), timeout ?? TestTimeouts.Unexpected);

    private static async Task<Socket> ConnectAsync(FloorServer floor)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        await socket.ConnectAsync(floor.Endpoint, deadline.Token);
        return socket;
    }

    private static async Task SendAsync(Socket socket, string text)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), SocketFlags.None, deadline.Token);
    }

    private static async Task<string> ReceiveAsync(Socket socket, int length)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        byte[] buffer = new byte[length];
        int received = 0;
        while (received < length)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, deadline.Token);
            if (read == 0)
            {
                break;
            }

            received += read;
        }

        return Encoding.UTF8.GetString(buffer, 0, received);
    }

    // Returns the byte count of the last read: 0 once the server has closed the connection.
    private static async Task<int> ReadUntilClosedAsync(Socket socket)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        byte[] buffer = new byte[256];
        int read;
        do
        {
            read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
        }
        while (read > 0);
        return read;
    }
}
