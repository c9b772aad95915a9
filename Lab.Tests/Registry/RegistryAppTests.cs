using System.Net;
using System.Net.Sockets;
using Lab.Hosting;
using Lab.Protocol.Settings;
using Lab.Registry;
using Microsoft.AspNetCore.Builder;

namespace Lab.Tests.Registry;

/// <summary>Building and hosting the registry in-process, as the tests and the scenario harness do.</summary>
[Parallelizable(ParallelScope.All)]
public class RegistryAppTests
{
    [Test]
    public async Task Started_with_port_0_it_reports_the_real_port_in_its_address_and_readiness_line()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        registry.BaseUri.Host.ShouldBe("127.0.0.1");
        registry.BaseUri.Port.ShouldBeGreaterThan(0);
        await registry.Log.WaitForLineAsync($@"INFO  Registry: Registry listening on http://127\.0\.0\.1:{registry.BaseUri.Port}$");
    }

    [Test]
    public async Task Stopping_logs_Registry_stopped_and_frees_the_port()
    {
        RunningRegistry registry = await RunningRegistry.StartAsync();
        int port = registry.BaseUri.Port;

        await registry.DisposeAsync();

        await registry.Log.WaitForLineAsync("INFO  Registry: Registry stopped$");
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await Should.ThrowAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, port));
    }

    [Test]
    public async Task Listens_on_IPv6_loopback_and_prints_the_address_in_brackets()
    {
        Assume.That(Socket.OSSupportsIPv6, "IPv6 is not available");
        await using RunningRegistry registry = await RunningRegistry.StartAsync(RunningRegistry.TestSettings with { Host = "::1" });

        registry.BaseUri.Host.ShouldBe("[::1]");
        await registry.Log.WaitForLineAsync($@"Registry listening on http://\[::1\]:{registry.BaseUri.Port}$");
        await registry.RegisterAsync(8080);
    }

    [TestCase("registry.example")]
    [TestCase("")]
    [TestCase("300.1.1.1")]
    public void Listen_address_that_is_not_an_IP_is_refused_with_the_bad_value_named(string host)
    {
        Should.Throw<FormatException>(() => RegistryApp.Build(RunningRegistry.TestSettings with { Host = host }, new LogSettings()))
            .Message.ShouldContain($"invalid listen address \"{host}\"");
    }
}
