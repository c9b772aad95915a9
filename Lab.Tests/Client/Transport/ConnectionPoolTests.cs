using Lab.Client;
using Lab.Client.Transport;
using Lab.Tests.Client.Support;
using Lab.Tests.Server.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lab.Tests.Client.Transport;

public class ConnectionPoolTests
{
    [Test]
    public async Task A_returned_connection_is_rented_again()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using var pool = new ConnectionPool(server.Host, server.Port, ClientTestSettings.Fast, NullLogger.Instance);

        ServerConnection first = await pool.RentAsync();
        await pool.ReturnAsync(first);
        ServerConnection second = await pool.RentAsync();

        second.ShouldBeSameAs(first);
        // A call answered on it means the server has logged the connection it accepted.
        (await second.CallAsync("add", [1, 2], null, result => result.GetInt64())).ShouldBe(13);
        server.AcceptedConnections.ShouldBe(1);
    }

    [Test]
    public async Task Concurrent_renters_get_a_connection_each()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using var pool = new ConnectionPool(server.Host, server.Port, ClientTestSettings.Fast, NullLogger.Instance);

        ServerConnection[] rented = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => pool.RentAsync()));

        rented.Distinct().Count().ShouldBe(5);
        await server.WaitUntilAsync(s => s.AcceptedConnections == 5, "five connections");
    }

    [Test]
    public async Task No_more_than_the_idle_limit_stay_open_after_a_burst()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using var pool = new ConnectionPool(server.Host, server.Port, ClientTestSettings.Fast with { MaxIdleConnectionsPerServer = 2 }, NullLogger.Instance);
        ServerConnection[] rented = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => pool.RentAsync()));

        foreach (ServerConnection connection in rented)
        {
            await pool.ReturnAsync(connection);
        }

        await server.WaitUntilAsync(s => s.OpenConnections == 2, "the three surplus connections to close");
    }

    [Test]
    public async Task A_reply_with_another_after_it_closes_its_connection_so_no_call_reads_the_extra_as_its_answer()
    {
        // Before: add(3, 1) = 777777 — every call on the pooled connection read the previous call's extra reply.
        await using var server = new MisbehavingServer(Misbehaviour.AnswersTwice);
        await using var pool = new ConnectionPool(server.Host, server.Port, ClientTestSettings.Fast, NullLogger.Instance);

        for (int call = 1; call <= 3; call++)
        {
            ServerConnection connection = await pool.RentAsync();
            (await connection.CallAsync("add", [call, 1], null, result => result.ToString())).ShouldBe("first", $"call {call}");
            await pool.ReturnAsync(connection);
        }

        server.ConnectionsAccepted.ShouldBe(3);
    }

    [Test]
    public async Task Bytes_arriving_on_an_idle_connection_close_it_instead_of_answering_the_next_call()
    {
        await using var server = new MisbehavingServer(Misbehaviour.ExtraReplyWhileIdle);
        await using var pool = new ConnectionPool(server.Host, server.Port, ClientTestSettings.Fast, NullLogger.Instance);
        ServerConnection first = await pool.RentAsync();
        (await first.CallAsync("add", [1, 1], null, result => result.ToString())).ShouldBe("first");
        await pool.ReturnAsync(first);

        server.SendExtras();
        await server.WaitUntilAsync(s => s.ExtrasSent == 1, "the unasked-for reply on the idle connection");
        ServerConnection second = await pool.RentAsync();

        second.ShouldNotBeSameAs(first);
        (await second.CallAsync("add", [2, 2], null, result => result.ToString())).ShouldBe("first");
    }

    [Test]
    public async Task A_newline_arriving_late_after_a_reply_still_lets_the_connection_be_reused()
    {
        // A server may write the newline after its reply separately (or a peer may send blank lines): that is
        // whitespace between messages, not an extra reply.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        await using var pool = new ConnectionPool("127.0.0.1", port, ClientTestSettings.Fast, NullLogger.Instance);
        Task<ServerConnection> renting = pool.RentAsync();
        using System.Net.Sockets.TcpClient peer = await listener.AcceptTcpClientAsync(TestTimeouts.UnexpectedToken());
        ServerConnection connection = await renting;
        System.Net.Sockets.NetworkStream stream = peer.GetStream();
        Task<string> call = connection.CallAsync("add", [1, 2], null, result => result.ToString());
        var reader = new Lab.Protocol.Framing.MessageReader(stream, 1024);
        (await reader.ReadMessageAsync(TestTimeouts.Unexpected, TestTimeouts.UnexpectedToken())).ShouldNotBeNull();
        await stream.WriteAsync("{\"res\": 13}"u8.ToArray(), TestTimeouts.UnexpectedToken());
        (await call).ShouldBe("13");

        // On loopback the bytes are in the client's socket when the write returns: the idle check sees them.
        await stream.WriteAsync("\r\n\n"u8.ToArray(), TestTimeouts.UnexpectedToken());
        await pool.ReturnAsync(connection);

        (await pool.RentAsync()).ShouldBeSameAs(connection);
    }

    [Test]
    public async Task A_broken_connection_is_closed_not_kept()
    {
        await using var server = new MisbehavingServer(Misbehaviour.NeverAnswers);
        await using var pool = new ConnectionPool(server.Host, server.Port, ClientTestSettings.Fast with { CallTimeout = TestTimeouts.Short }, NullLogger.Instance);
        ServerConnection connection = await pool.RentAsync();
        await Should.ThrowAsync<RpcCallTimeoutException>(() => connection.CallAsync("add", [1, 2], null, result => result.GetInt64()));

        await pool.ReturnAsync(connection);

        (await pool.RentAsync()).ShouldNotBeSameAs(connection);
    }

    [Test]
    public async Task An_idle_connection_closed_by_a_restarted_server_is_replaced_before_any_request_is_sent()
    {
        RunningTcpServer first = RunningTcpServer.Start("first");
        var settings = ClientTestSettings.Fast;
        await using var pool = new ConnectionPool(first.Host, first.Port, settings, NullLogger.Instance);
        ServerConnection stale = await pool.RentAsync();
        await pool.ReturnAsync(stale);

        await first.StopAsync();
        await using RunningTcpServer second = RunningTcpServer.Start("second", port: first.Port);
        ServerConnection fresh = await pool.RentAsync();
        string? answeredBy = await fresh.CallAsync("whoami", null, null, result => result.GetString());

        fresh.ShouldNotBeSameAs(stale);
        answeredBy.ShouldBe("second");
    }

    [Test]
    public async Task Dispose_closes_idle_and_busy_connections_and_refuses_new_rentals()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        var pool = new ConnectionPool(server.Host, server.Port, ClientTestSettings.Fast, NullLogger.Instance);
        ServerConnection busy = await pool.RentAsync();
        ServerConnection idle = await pool.RentAsync();
        await pool.ReturnAsync(idle);
        await server.WaitUntilAsync(s => s.OpenConnections == 2, "two connections");

        await pool.DisposeAsync();

        await server.WaitUntilAsync(s => s.OpenConnections == 0, "every connection to close");
        busy.IsBroken.ShouldBeTrue();
        await Should.ThrowAsync<ObjectDisposedException>(() => pool.RentAsync());
    }

    [Test]
    public async Task AbortAll_ends_a_waiting_call_with_the_reason_and_the_pool_stays_usable()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using var pool = new ConnectionPool(server.Host, server.Port, ClientTestSettings.Fast, NullLogger.Instance);
        ServerConnection busy = await pool.RentAsync();
        Task<string> held = busy.CallAsync("hold", null, null, result => result.GetString()!);
        await server.WaitUntilAsync(s => s.HeldCalls == 1, "the call to arrive");

        await pool.AbortAllAsync("the server went silent");

        var failure = await Should.ThrowAsync<RpcReadException>(() => held);
        failure.Message.ShouldBe($"reading the reply from {server.Address} failed: the server went silent");
        failure.RequestSent.ShouldBeTrue();
        await pool.ReturnAsync(busy);
        ServerConnection fresh = await pool.RentAsync();
        fresh.ShouldNotBeSameAs(busy);
        (await fresh.CallAsync("add", [1, 2], null, result => result.GetInt64())).ShouldBe(13);
        server.AcceptedConnections.ShouldBe(2);
    }
}
