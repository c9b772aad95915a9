using System.Net;
using System.Net.Sockets;
using Lab.Protocol.Discovery;

namespace Lab.Tests.Protocol;

public class HostAddressTests
{
    [TestCase("127.0.0.1", "127.0.0.1")]
    [TestCase("0.0.0.0", "0.0.0.0")]
    [TestCase("::", "::")]
    [TestCase("[::1]", "::1")]
    [TestCase(" localhost ", "127.0.0.1")]
    public void Listen_address_accepts_IP_literals_and_localhost(string host, string expected) =>
        HostAddress.ParseListen(host).ShouldBe(IPAddress.Parse(expected));

    [TestCase("not-an-address")]
    [TestCase("1.2.3")]
    [TestCase("300.1.1.1")]
    [TestCase("")]
    public void Listen_address_that_is_not_a_full_IP_is_refused_with_the_bad_value_named(string host) =>
        Should.Throw<FormatException>(() => HostAddress.ParseListen(host)).Message.ShouldStartWith($"invalid listen address \"{host}\"");

    [TestCase("127.0.0.1", 8089, "127.0.0.1:8089")]
    [TestCase("::1", 8089, "[::1]:8089")]
    [TestCase("[::1]", 8089, "[::1]:8089")]
    [TestCase("example.com", 80, "example.com:80")]
    public void Host_and_port_are_written_with_IPv6_in_brackets(string host, int port, string expected) =>
        HostAddress.Format(host, port).ShouldBe(expected);

    [Test]
    public void IPv4_mapped_IPv6_address_is_shown_and_dialled_as_IPv4()
    {
        HostAddress.Dialable(IPAddress.Parse("::ffff:192.168.1.7")).ShouldBe("192.168.1.7");
        HostAddress.Dialable(IPAddress.Parse("::1")).ShouldBe("::1");
        HostAddress.Format(new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.1"), 5000)).ShouldBe("127.0.0.1:5000");
    }

    [TestCase(null, true)]
    [TestCase("0.0.0.0", true)]
    [TestCase("::", true)]
    [TestCase("", true)]
    [TestCase("  ", true)]
    [TestCase("0:0:0:0:0:0:0:0", true)]
    [TestCase("127.0.0.1", false)]
    [TestCase("::1", false)]
    [TestCase("example.com", false)]
    public void Wildcard_hosts_are_the_every_interface_addresses(string? host, bool wildcard) =>
        HostAddress.IsWildcard(host).ShouldBe(wildcard);

    [Test]
    public void Specific_listen_address_is_advertised_as_it_is() =>
        HostAddress.ChooseAdvertised("", IPAddress.Parse("::1")).ShouldBe("::1");

    [Test]
    public void Advertise_host_wins_for_a_wildcard_listen_address() =>
        HostAddress.ChooseAdvertised("10.1.2.3", IPAddress.Any).ShouldBe("10.1.2.3");

    [Test]
    public void Wildcard_without_advertise_host_advertises_a_dialable_address_of_this_machine()
    {
        string host = HostAddress.ChooseAdvertised("", IPAddress.Any);

        IPAddress.TryParse(host, out IPAddress? address).ShouldBeTrue(host);
        HostAddress.IsWildcard(host).ShouldBeFalse();
        address!.AddressFamily.ShouldBe(AddressFamily.InterNetwork);
    }
}
