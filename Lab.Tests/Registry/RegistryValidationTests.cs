using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CsCheck;
using Lab.Protocol.Discovery;
using Lab.Registry;

namespace Lab.Tests.Registry;

/// <summary>
/// Registry data you can trust: hostile bodies get a 400 naming the problem (never a 500 or an empty
/// body), one server is one entry however it spells its host, the instance count is capped, and with a
/// token only servers that know it may register or unregister. Random bodies and hosts (CsCheck) too.
/// </summary>
public class RegistryValidationTests
{
    private static readonly string[] HostSpellings = ["127.0.0.1", "127.000.000.001", "::ffff:127.0.0.1", "[::FFFF:127.0.0.1]", "LOCALHOST"];

    [Test]
    public async Task One_server_under_five_spellings_of_its_host_is_one_entry()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        foreach (string host in HostSpellings)
        {
            using HttpResponseMessage response = await registry.PostJsonAsync(RequestHandler.RegisterPath, RunningRegistry.Instance(8080, host: host));
            response.StatusCode.ShouldBe(HttpStatusCode.OK, host);
        }

        (await registry.FindAsync()).ShouldHaveSingleItem().Host.ShouldBe("127.0.0.1");
    }

    [TestCase("1.2.3", "\"host\" is not a valid IPv4 address: \"1.2.3\" (expected four numbers 0-255)")]
    [TestCase("256.1.1.1", "\"host\" is not a valid IPv4 address: \"256.1.1.1\" (expected four numbers 0-255)")]
    [TestCase("a b", "\"host\" is not a valid host name: \"a b\" (label \"a b\")")]
    [TestCase("-node.lab", "\"host\" is not a valid host name: \"-node.lab\" (label \"-node\")")]
    [TestCase("fe80::zz", "\"host\" is not a valid IPv6 address: \"fe80::zz\"")]
    public async Task Bad_host_is_a_400_naming_it(string host, string error)
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        using HttpResponseMessage response = await registry.PostJsonAsync(RequestHandler.RegisterPath, RunningRegistry.Instance(8080, host: host));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorOfAsync(response)).ShouldBe(error);
    }

    [Test]
    public async Task A_60000_character_host_is_a_short_400()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        using HttpResponseMessage response = await registry.PostJsonAsync(RequestHandler.RegisterPath, RunningRegistry.Instance(8080, host: new string('a', 60_000)));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        string error = await ErrorOfAsync(response);
        error.ShouldStartWith("\"host\" must be 1 to 253 characters, not \"aaaa");
        error.ShouldEndWith("...\" (60000 characters)");
        registry.Service.Snapshot().Count.ShouldBe(0);
    }

    [TestCase("""{"protocol": "json", "host": "a<FF>b", "port": 8080}""", "the body is not valid UTF-8 text")]
    [TestCase("""{"protocol": "json", "host": "127.0.0.1", "port": 8080, "parameters": {"w<FF>": 1}}""", "the body is not valid UTF-8 text")]
    [TestCase("""{"protocol": "json", "host": "\ud800", "port": 8080}""", "a string in the instance is not valid Unicode text (an unpaired surrogate such as \\ud800)")]
    [TestCase("""{"protocol": "json", "host": "127.0.0.1", "port": 8080, "parameters": {"\ud800": 1}}""", "a string in the body is not valid Unicode text (an unpaired surrogate such as \\ud800)")]
    [TestCase("""{"protocol": "json\u001b[31m", "host": "127.0.0.1", "port": 8080}""", "\"protocol\" must be 1 to 32 letters, digits, '.', '_', '-' or '+' (such as json), not json\\u001b[31m")]
    [TestCase("""{"protocol": "jsonjsonjsonjsonjsonjsonjsonjsonjson", "host": "127.0.0.1", "port": 8080}""", "\"protocol\" must be 1 to 32 letters, digits, '.', '_', '-' or '+' (such as json), not jsonjsonjsonjsonjsonjsonjsonjsonjson")]
    [TestCase("""{"protocol": "json", "host": "10.0.0.1", "host": "127.0.0.1", "port": 8080}""", "duplicate key \"host\": each key may appear once")]
    [TestCase("""{"protocol": "json", "host": "127.0.0.1", "port": 8080, "parameters": {"w": 1, "w": 2}}""", "duplicate key \"w\": each key may appear once")]
    public async Task Hostile_text_in_the_body_is_a_400_not_a_500(string body, string error)
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        // "<FF>" in a case stands for the raw byte 0xFF (never valid in UTF-8).
        byte[] bytes = [.. body.Split("<FF>").SelectMany((part, i) => (i == 0 ? [] : new byte[] { 0xFF }).Concat(Encoding.UTF8.GetBytes(part)))];
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using HttpResponseMessage response = await registry.Http.PostAsync(new Uri("myRegistry/register", UriKind.Relative), content);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorOfAsync(response)).ShouldBe(error);
    }

    [Test]
    public async Task Beyond_max_instances_of_heartbeating_servers_a_new_instance_is_a_503_and_a_heartbeat_still_works()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync(RunningRegistry.TestSettings with { MaxInstances = 2 });
        for (int time = 0; time < 2; time++)
        {
            await registry.RegisterAsync(8080);
            await registry.RegisterAsync(8081);
        }

        using HttpResponseMessage third = await registry.PostJsonAsync(RequestHandler.RegisterPath, RunningRegistry.Instance(8082));

        third.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await ErrorOfAsync(third)).ShouldBe("the registry is full: it holds max_instances (2) instances, all of them heartbeating");
        await registry.RegisterAsync(8080);
        (await registry.FindAsync()).Count.ShouldBe(2);
    }

    [Test]
    public async Task Parameters_over_max_parameters_size_are_a_400()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync(RunningRegistry.TestSettings with { MaxParametersSize = 20 });
        string fits = """{"weight": 2}""";
        string tooLarge = """{"p": "12345678901234567890"}""";

        using HttpResponseMessage small = await registry.PostJsonAsync(RequestHandler.RegisterPath, $$"""{"protocol": "json", "host": "127.0.0.1", "port": 8080, "parameters": {{fits}}}""");
        using HttpResponseMessage large = await registry.PostJsonAsync(RequestHandler.RegisterPath, $$"""{"protocol": "json", "host": "127.0.0.1", "port": 8081, "parameters": {{tooLarge}}}""");

        small.StatusCode.ShouldBe(HttpStatusCode.OK);
        large.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await ErrorOfAsync(large)).ShouldBe("\"parameters\" is 29 bytes of JSON; this registry takes at most 20 (max_parameters_size)");
        (await registry.FindAsync()).ShouldHaveSingleItem().Port.ShouldBe(8080);
    }

    [Test]
    public async Task With_a_token_register_and_unregister_need_it_and_discovery_stays_open()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync(RunningRegistry.TestSettings with { Token = "s3cret" });

        using (HttpResponseMessage anonymous = await registry.PostJsonAsync(RequestHandler.RegisterPath, RunningRegistry.Instance(8080)))
        {
            anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
            (await ErrorOfAsync(anonymous)).ShouldContain("Authorization: Bearer <token>");
        }

        registry.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");
        using (HttpResponseMessage wrong = await registry.PostJsonAsync(RequestHandler.RegisterPath, RunningRegistry.Instance(8080)))
        {
            wrong.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        // RFC 7235: the scheme is case-insensitive.
        registry.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("bearer", "s3cret");
        await registry.RegisterAsync(8080);
        registry.Http.DefaultRequestHeaders.Authorization = null;
        using (HttpResponseMessage unregister = await registry.PostJsonAsync(RequestHandler.UnregisterPath, RunningRegistry.Instance(8080)))
        {
            unregister.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        (await registry.FindAsync()).ShouldHaveSingleItem().Port.ShouldBe(8080);
    }

    [Test]
    public void Host_normalisation_is_idempotent_and_refuses_with_FormatException_only()
    {
        Gen<string> hosts = Gen.OneOf(
            Gen.String,
            Gen.OneOf("0123456789.:abcdefABCDEF-[]% ".ToCharArray()).Array[0, 40].Select(chars => new string(chars)),
            Gen.OneOf(HostSpellings));

        hosts.Sample(host =>
        {
            string normal;
            try
            {
                normal = HostAddress.Normalize(host);
            }
            catch (FormatException ex)
            {
                ex.Message.ShouldStartWith("\"host\"");
                ex.Message.Length.ShouldBeLessThan(300);
                return;
            }

            HostAddress.Normalize(normal).ShouldBe(normal);
            normal.ShouldBe(normal.ToLowerInvariant());
            normal.Length.ShouldBeInRange(1, 253);
        }, iter: 2000);
    }

    [Test]
    public async Task Random_bodies_get_200_or_a_4xx_with_an_error_never_a_500()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        string[] tokens =
        [
            "{", "}", "[", "]", ":", ",", "\"protocol\"", "\"host\"", "\"port\"", "\"parameters\"", "\"status\"", "\"json\"",
            "\"127.0.0.1\"", "\"::1\"", "\"LocalHost\"", "\"1.2.3\"", "\"\\ud800\"", "8080", "0", "70000", "1e309", "true", "null",
        ];
        Gen<string> soup = Gen.OneOf(tokens).Array[0, 16].Select(string.Concat);
        Gen<string> almostValid = Gen.Select(Gen.OneOf(tokens), Gen.OneOf(tokens), (host, port) =>
            "{\"protocol\": \"json\", \"host\": " + host + ", \"port\": " + port + "}");

        await Gen.OneOf(soup, almostValid).SampleAsync(async body =>
        {
            using HttpResponseMessage response = await registry.PostJsonAsync(RequestHandler.RegisterPath, body);
            int status = (int)response.StatusCode;
            new[] { 200, 400 }.ShouldContain(status, body);
            if (status == 400)
            {
                (await ErrorOfAsync(response)).ShouldNotBeNullOrWhiteSpace(body);
            }
        }, iter: 300, threads: 1);

        registry.Log.Count(Microsoft.Extensions.Logging.LogLevel.Error, "failed").ShouldBe(0);
        (await registry.FindAsync()).ShouldAllBe(instance => HostAddress.Normalize(instance.Host) == instance.Host);
    }

    private static async Task<string> ErrorOfAsync(HttpResponseMessage response)
    {
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("error").GetString()!;
    }
}
