using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Lab.Client;
using Lab.Client.Transport;
using Lab.Protocol.Settings;
using Lab.Protocol.Messages;
using Lab.Tests.Client.Support;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Client.Transport;

// Every client-side timeout of lab requirements §7 against a server that misbehaves in exactly that phase:
// the error has the phase's type, names the server, and comes promptly.
public class ServerConnectionTests
{
    private static readonly ClientSettings Settings = ClientTestSettings.Fast;

    [Test]
    public async Task Connect_to_a_server_that_never_accepts_times_out_with_RpcConnectException_naming_it()
    {
        using FullBacklogListener server = await FullBacklogListener.StartAsync();
        var stopwatch = Stopwatch.StartNew();

        var failure = await Should.ThrowAsync<RpcConnectException>(
            () => ServerConnection.ConnectAsync(server.Host, server.Port, Settings with { ConnectTimeout = TestTimeouts.Short }));

        stopwatch.Elapsed.ShouldBeLessThan(TestTimeouts.Prompt);
        failure.Server.ShouldBe(server.Address);
        failure.Message.ShouldContain(server.Address);
        failure.Message.ShouldContain("connect_timeout");
        failure.RequestSent.ShouldBeFalse();
    }

    [Test]
    public async Task Connect_to_a_closed_port_fails_at_once_with_RpcConnectException()
    {
        int closedPort = FreePorts.Pick();
        var stopwatch = Stopwatch.StartNew();

        var failure = await Should.ThrowAsync<RpcConnectException>(
            () => ServerConnection.ConnectAsync("127.0.0.1", closedPort, Settings));

        stopwatch.Elapsed.ShouldBeLessThan(TestTimeouts.Prompt);
        failure.Server.ShouldBe($"127.0.0.1:{closedPort}");
        failure.InnerException.ShouldBeOfType<SocketException>();
    }

    [Test]
    public async Task Writing_to_a_server_that_never_reads_times_out_with_RpcWriteException()
    {
        await using var server = new MisbehavingServer(Misbehaviour.NeverReads);
        await using ServerConnection connection = await ServerConnection.ConnectAsync(
            server.Host, server.Port, Settings with { WriteTimeout = TestTimeouts.Short });
        // Far more than the socket buffers of both ends hold, so the write must block.
        string payload = new('x', 16 * 1024 * 1024);
        var stopwatch = Stopwatch.StartNew();

        var failure = await Should.ThrowAsync<RpcWriteException>(
            () => connection.CallAsync("echo", [payload], null, result => result.GetString()));

        stopwatch.Elapsed.ShouldBeLessThan(TestTimeouts.Prompt);
        failure.Server.ShouldBe(server.Address);
        failure.Message.ShouldContain("write_timeout");
        failure.RequestSent.ShouldBeFalse();
        connection.IsBroken.ShouldBeTrue();
    }

    [Test]
    public async Task A_server_that_reads_but_never_answers_gives_RpcCallTimeoutException()
    {
        await using var server = new MisbehavingServer(Misbehaviour.NeverAnswers);
        await using ServerConnection connection = await ServerConnection.ConnectAsync(
            server.Host, server.Port, Settings with { CallTimeout = TestTimeouts.Short });
        var stopwatch = Stopwatch.StartNew();

        var failure = await Should.ThrowAsync<RpcCallTimeoutException>(
            () => connection.CallAsync("add", [1, 2], null, result => result.GetInt64()));

        stopwatch.Elapsed.ShouldBeLessThan(TestTimeouts.Prompt);
        failure.Server.ShouldBe(server.Address);
        failure.RequestSent.ShouldBeTrue();
        server.RequestsReceived.ShouldBe(1);
        // A late reply would land in the next call on this connection: it must not be reused.
        connection.IsBroken.ShouldBeTrue();
        connection.IsReusable().ShouldBeFalse();
    }

    [Test]
    public async Task A_reply_that_is_not_UTF8_is_an_RpcReadException_and_the_connection_is_not_reused()
    {
        // It used to end the client program: "Cannot transcode invalid UTF-8", when the result was printed.
        await using var server = new MisbehavingServer(Misbehaviour.InvalidUtf8Reply);
        await using ServerConnection connection = await ServerConnection.ConnectAsync(server.Host, server.Port, Settings);

        var failure = await Should.ThrowAsync<RpcReadException>(
            () => connection.CallAsync("add", [1, 2], null, result => result.GetRawText()));

        failure.Message.ShouldBe($"reading the reply from {server.Address} failed: the reply is not valid UTF-8 text");
        failure.RequestSent.ShouldBeTrue();
        connection.IsBroken.ShouldBeTrue();
    }

    [Test]
    public async Task A_server_that_closes_halfway_through_a_reply_gives_RpcReadException()
    {
        await using var server = new MisbehavingServer(Misbehaviour.HalfReplyThenClose);
        await using ServerConnection connection = await ServerConnection.ConnectAsync(server.Host, server.Port, Settings);
        var stopwatch = Stopwatch.StartNew();

        var failure = await Should.ThrowAsync<RpcReadException>(
            () => connection.CallAsync("add", [1, 2], null, result => result.GetInt64()));

        stopwatch.Elapsed.ShouldBeLessThan(TestTimeouts.Prompt);
        failure.Server.ShouldBe(server.Address);
        failure.Message.ShouldContain("in the middle of a message");
        connection.IsBroken.ShouldBeTrue();
    }

    [Test]
    public async Task A_reply_that_starts_then_stalls_gives_RpcReadException_after_the_read_timeout()
    {
        await using var server = new MisbehavingServer(Misbehaviour.HalfReplyThenStall);
        // The call timeout is long: only the read timeout can end this call promptly.
        await using ServerConnection connection = await ServerConnection.ConnectAsync(
            server.Host, server.Port, Settings with { ReadTimeout = TestTimeouts.Short, CallTimeout = TestTimeouts.Unexpected });
        var stopwatch = Stopwatch.StartNew();

        var failure = await Should.ThrowAsync<RpcReadException>(
            () => connection.CallAsync("add", [1, 2], null, result => result.GetInt64()));

        stopwatch.Elapsed.ShouldBeLessThan(TestTimeouts.Prompt);
        failure.Server.ShouldBe(server.Address);
        failure.Message.ShouldContain("did not finish within the read timeout");
        failure.InnerException.ShouldBeOfType<Lab.Protocol.Framing.MessageReadTimeoutException>();
    }

    [Test]
    public async Task A_server_that_closes_after_the_request_gives_RpcReadException_saying_no_reply()
    {
        await using var server = new MisbehavingServer(Misbehaviour.CloseAfterRequest);
        await using ServerConnection connection = await ServerConnection.ConnectAsync(server.Host, server.Port, Settings);

        var failure = await Should.ThrowAsync<RpcReadException>(
            () => connection.CallAsync("add", [1, 2], null, result => result.GetInt64()));

        failure.Message.ShouldContain("closed the connection without replying");
        failure.RequestSent.ShouldBeTrue();
    }

    [Test]
    public async Task An_error_reply_raises_RpcRemoteException_and_keeps_the_connection_usable()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using ServerConnection connection = await ServerConnection.ConnectAsync(server.Host, server.Port, Settings);

        var failure = await Should.ThrowAsync<RpcRemoteException>(
            () => connection.CallAsync("divide", [1, 0], null, result => result.GetDouble()));
        double quotient = await connection.CallAsync("divide", [1, 4], null, result => result.GetDouble());

        failure.Code.ShouldBe(RpcErrorCode.MethodFailed);
        failure.RemoteMessage.ShouldBe("Division by zero error!");
        failure.Server.ShouldBe(server.Address);
        quotient.ShouldBe(0.25);
        connection.IsBroken.ShouldBeFalse();
        server.AcceptedConnections.ShouldBe(1);
    }

    [Test]
    public async Task A_call_cancelled_by_the_caller_throws_OperationCanceledException_and_breaks_the_connection()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using ServerConnection connection = await ServerConnection.ConnectAsync(server.Host, server.Port, Settings);
        using var cancellation = new CancellationTokenSource();

        Task<string?> call = connection.CallAsync("hold", null, null, result => result.GetString(), cancellation.Token);
        await server.WaitUntilAsync(s => s.HeldCalls == 1, "the held call to arrive");
        await cancellation.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(call);
        connection.IsBroken.ShouldBeTrue();
    }

    [Test]
    public async Task An_idle_connection_the_server_closed_is_not_reusable()
    {
        RunningTcpServer server = RunningTcpServer.Start();
        await using ServerConnection connection = await ServerConnection.ConnectAsync(server.Host, server.Port, Settings);
        (await connection.CallAsync("add", [1, 2], null, result => result.GetInt64())).ShouldBe(13);
        connection.IsReusable().ShouldBeTrue();

        await server.StopAsync();

        connection.IsReusable().ShouldBeFalse();
    }

    [Test]
    public async Task Connects_over_IPv6_loopback()
    {
        await using RunningTcpServer server = RunningTcpServer.Start(address: IPAddress.IPv6Loopback);
        await using ServerConnection connection = await ServerConnection.ConnectAsync("::1", server.Port, Settings);

        long sum = await connection.CallAsync("add", [1, 2], null, result => result.GetInt64());

        sum.ShouldBe(13);
        connection.Server.ShouldBe($"[::1]:{server.Port}");
    }

}
