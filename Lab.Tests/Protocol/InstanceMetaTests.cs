using System.Text.Json;
using Lab.Protocol;
using Lab.Protocol.Discovery;

namespace Lab.Tests.Protocol;

/// <summary>The registry's instance record (lab requirements §4), as servers send it and clients read it.</summary>
[Parallelizable(ParallelScope.All)]
public class InstanceMetaTests
{
    [Test]
    public void Serializes_with_the_lab_field_names_in_the_lab_order()
    {
        var instance = new InstanceMeta { Host = "192.168.1.1", Port = 8080 };

        JsonSerializer.Serialize(instance, ProtocolJson.Options)
            .ShouldBe("""{"protocol":"json","host":"192.168.1.1","port":8080,"status":true,"parameters":{}}""");
    }

    [Test]
    public void Parse_reads_every_field_and_keeps_parameters_after_the_document_is_gone()
    {
        InstanceMeta instance;
        using (JsonDocument document = JsonDocument.Parse("""{"protocol": "json", "host": " 10.0.0.5 ", "port": 8089, "status": false, "parameters": {"weight": 3, "zone": "a"}}"""))
        {
            instance = InstanceMeta.Parse(document.RootElement);
        }

        instance.Protocol.ShouldBe("json");
        instance.Host.ShouldBe("10.0.0.5");
        instance.Port.ShouldBe(8089);
        instance.Status.ShouldBeFalse();
        instance.Parameters["zone"].GetString().ShouldBe("a");
        instance.Weight.ShouldBe(3);
    }

    [Test]
    public void Parse_defaults_status_to_true_and_parameters_to_empty()
    {
        using JsonDocument document = JsonDocument.Parse("""{"protocol": "json", "host": "::1", "port": 1, "status": null, "parameters": null}""");

        InstanceMeta instance = InstanceMeta.Parse(document.RootElement);

        instance.Status.ShouldBeTrue();
        instance.Parameters.ShouldBeEmpty();
    }

    [TestCase("127.0.0.1")]
    [TestCase("::1")]
    [TestCase("fe80::1")]
    [TestCase("server-1.example")]
    [TestCase("")]
    [TestCase("0.0.0.0")]
    public void Parse_accepts_IP_addresses_host_names_and_wildcards(string host)
    {
        using JsonDocument document = JsonDocument.Parse($"{{\"protocol\": \"json\", \"host\": \"{host}\", \"port\": 80}}");

        InstanceMeta.Parse(document.RootElement).Host.ShouldBe(host);
    }

    [Test]
    public void Identity_is_protocol_host_and_port_with_case_insensitive_names()
    {
        var a = new InstanceMeta { Protocol = "json", Host = "Server-1", Port = 80 };
        var b = new InstanceMeta { Protocol = "JSON", Host = "server-1", Port = 80, Status = false };
        var c = new InstanceMeta { Protocol = "json", Host = "server-1", Port = 81 };

        a.Key.ShouldBe(b.Key);
        a.Key.GetHashCode().ShouldBe(b.Key.GetHashCode());
        a.Key.ShouldNotBe(c.Key);
    }

    [TestCase("127.0.0.1", 8080, "127.0.0.1:8080")]
    [TestCase("::1", 8080, "[::1]:8080")]
    [TestCase("[::1]", 8080, "[::1]:8080")]
    [TestCase("server", 1, "server:1")]
    public void Address_brackets_IPv6_hosts(string host, int port, string expected)
    {
        new InstanceMeta { Host = host, Port = port }.Address.ShouldBe(expected);
    }

    [Test]
    public void ToString_reads_like_the_registry_log_lines()
    {
        new InstanceMeta { Host = "::1", Port = 8089 }.ToString().ShouldBe("json://[::1]:8089");
    }

    [TestCase("""{"weight": 2.5}""", 2.5)]
    [TestCase("""{}""", 1.0)]
    [TestCase("""{"weight": 0}""", 1.0)]
    [TestCase("""{"weight": -3}""", 1.0)]
    [TestCase("""{"weight": "5"}""", 1.0)]
    [TestCase("""{"weight": 1e400}""", 1.0)]
    public void Weight_comes_from_parameters_and_falls_back_to_1(string parameters, double expected)
    {
        using JsonDocument document = JsonDocument.Parse($"{{\"protocol\": \"json\", \"host\": \"h\", \"port\": 80, \"parameters\": {parameters}}}");

        InstanceMeta.Parse(document.RootElement).Weight.ShouldBe(expected);
    }

    [Test]
    public void With_copies_the_instance_changing_only_host_and_status()
    {
        var original = new InstanceMeta { Protocol = "json", Host = "0.0.0.0", Port = 80 };

        InstanceMeta copy = original.With(host: "10.0.0.1", status: false);

        copy.Host.ShouldBe("10.0.0.1");
        copy.Status.ShouldBeFalse();
        copy.Port.ShouldBe(80);
        original.Host.ShouldBe("0.0.0.0");
        original.Status.ShouldBeTrue();
    }

    [TestCase("[]", "the body must be a JSON object")]
    [TestCase("""{"host": "h", "port": 1}""", "missing \"protocol\"")]
    [TestCase("""{"protocol": "json", "port": 1}""", "missing \"host\"")]
    [TestCase("""{"protocol": "json", "host": "h"}""", "missing \"port\"")]
    [TestCase("""{"protocol": "json", "host": "h", "port": 1.5}""", "\"port\" must be a whole number")]
    [TestCase("""{"protocol": "json", "host": "h", "port": 70000}""", "\"port\" must be between 1 and 65535, not 70000")]
    [TestCase("""{"protocol": "json", "host": "a b", "port": 1}""", "\"host\" is not a valid host name: \"a b\" (label \"a b\")")]
    [TestCase("""{"protocol": "json", "host": "h", "port": 1, "status": 1}""", "\"status\" must be true or false")]
    [TestCase("""{"protocol": "json", "host": "h", "port": 1, "parameters": "x"}""", "\"parameters\" must be an object")]
    public void Parse_refuses_bad_fields_with_a_message_naming_the_field(string json, string expected)
    {
        using JsonDocument document = JsonDocument.Parse(json);

        Should.Throw<FormatException>(() => InstanceMeta.Parse(document.RootElement)).Message.ShouldBe(expected);
    }
}
