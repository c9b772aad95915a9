using Lab.Scenarios.Grading;

namespace Lab.Tests.Scenarios.Grading;

[Parallelizable(ParallelScope.All)]
public class ConnectOutWatchTests
{
    [Test]
    public void The_recorded_destinations_are_read_from_nfts_json_as_address_and_port()
    {
        // What `nft -j list set inet rpclab_sandbox out6` printed after a program tried two addresses.
        const string Listed = """
            {"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
              {"set": {"family": "inet", "name": "out6", "table": "rpclab_sandbox", "type": ["ipv6_addr", "inet_service"], "handle": 3, "size": 4096,
                       "elem": [{"concat": ["2001:db8::1", 443]}, {"concat": ["2001:db8::0", 80]}]}}]}
            """;

        ConnectOutWatch.Parse(Listed, ipv6: true).ShouldBe(["[2001:db8::0]:80", "[2001:db8::1]:443"]);
    }

    [Test]
    public void An_empty_set_has_no_elem_and_records_nothing()
    {
        const string Listed = """{"nftables": [{"metainfo": {}}, {"set": {"family": "inet", "name": "out4", "table": "rpclab_sandbox", "type": ["ipv4_addr", "inet_service"], "size": 4096}}]}""";

        ConnectOutWatch.Parse(Listed, ipv6: false).ShouldBeEmpty();
    }

    [Test]
    public void The_rule_records_only_the_submissions_own_user_and_rejects_every_packet_off_loopback()
    {
        string rules = ConnectOutWatch.Ruleset(1_000_000_042);

        rules.ShouldContain("oifname \"lo\" accept");
        rules.ShouldContain("meta skuid 1000000042 meta l4proto { tcp, udp } meta nfproto ipv4 add @out4 { ip daddr . th dport }");
        rules.ShouldContain("meta l4proto tcp reject with tcp reset");
        rules.ShouldContain("reject with icmpx admin-prohibited");
    }
}
