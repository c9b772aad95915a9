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
