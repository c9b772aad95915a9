using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Lab.Protocol.Discovery;
using Lab.Registry;

namespace Lab.Tests.Registry;

/// <summary>The registry's HTTP face (lab requirements §4), over real HTTP to a registry on a free loopback port.</summary>
[Parallelizable(ParallelScope.All)]
public class RequestHandlerTests
{
    [Test]
    public async Task Register_answers_200_with_the_instance_and_status_true_in_the_lab_field_order()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        using HttpResponseMessage response = await registry.PostJsonAsync(
            RequestHandler.RegisterPath,
            """{"parameters": {"weight": 2}, "port": 8080, "host": "127.0.0.1", "protocol": "json"}""");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/json");
        (await response.Content.ReadAsStringAsync()).ShouldBe(
            """{"protocol":"json","host":"127.0.0.1","port":8080,"status":true,"parameters":{"weight":2}}""");
        await registry.Log.WaitForLineAsync(@"INFO  RegistryService: Registered json://127.0.0.1:8080$");
    }

    [Test]
    public async Task Register_again_is_a_heartbeat_that_keeps_one_entry_and_refreshes_its_timestamp()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        await registry.RegisterAsync(8080);

        // Timeout is 3 s: 2 s + 2 s of silence would expire it, unless the heartbeat in between counts.
        registry.Clock.Advance(TimeSpan.FromSeconds(2));
        await registry.RegisterAsync(8080);
        registry.Clock.Advance(TimeSpan.FromSeconds(2));

        (await registry.FindAsync()).Select(i => i.Port).ShouldBe([8080]);
        registry.Service.Snapshot().Count.ShouldBe(1);
        await registry.Log.WaitForLineAsync(@"DEBUG RegistryService: Heartbeat from json://127.0.0.1:8080$");
        registry.Log.Lines.Count(line => line.Contains("Registered json://", StringComparison.Ordinal)).ShouldBe(1);
    }

    [Test]
    public async Task Unregister_of_a_known_instance_removes_it_and_answers_status_false()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        await registry.RegisterAsync(8080);

        using HttpResponseMessage response = await registry.PostJsonAsync(RequestHandler.UnregisterPath, RunningRegistry.Instance(8080));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).ShouldBe(
            """{"protocol":"json","host":"127.0.0.1","port":8080,"status":false,"parameters":{}}""");
        (await registry.FindAsync()).ShouldBeEmpty();
        await registry.Log.WaitForLineAsync(@"INFO  RegistryService: Unregistered json://127.0.0.1:8080$");
    }

    [Test]
    public async Task Unregister_of_an_unknown_instance_still_answers_200_with_status_false()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        using HttpResponseMessage response = await registry.PostJsonAsync(RequestHandler.UnregisterPath, RunningRegistry.Instance(9090));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).ShouldBe(
            """{"protocol":"json","host":"127.0.0.1","port":9090,"status":false,"parameters":{}}""");
        registry.Log.Lines.ShouldNotContain(line => line.Contains("INFO  RegistryService: Unregistered", StringComparison.Ordinal));
    }

    [Test]
    public async Task FindAllInstances_returns_only_healthy_instances_of_the_asked_protocol()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        await registry.RegisterAsync(8082);
        await registry.RegisterAsync(8081);
        await registry.RegisterAsync(9000, protocol: "xml");

        using HttpResponseMessage response = await registry.Http.GetAsync(new Uri("myRegistry/findAllInstances?proto=json", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).ShouldBe(
            """[{"protocol":"json","host":"127.0.0.1","port":8081,"status":true,"parameters":{}},"""
            + """{"protocol":"json","host":"127.0.0.1","port":8082,"status":true,"parameters":{}}]""");
        (await registry.FindAsync("xml")).Select(i => i.Port).ShouldBe([9000]);
        (await registry.FindAsync("thrift")).ShouldBeEmpty();
    }

    [Test]
    public async Task FindAllInstances_without_proto_is_a_400_naming_the_parameter()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        using HttpResponseMessage response = await registry.Http.GetAsync(new Uri("myRegistry/findAllInstances", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).ShouldBe("""{"error":"missing query parameter \"proto\" (e.g. ?proto=json)"}""");
    }

    [TestCase("GET", "/")]
    [TestCase("GET", "/myRegistry")]
    [TestCase("GET", "/myRegistry/unknown")]
    [TestCase("GET", "/favicon.ico")]
    [TestCase("POST", "/register")]
    [TestCase("GET", "/myRegistry/register")]
    [TestCase("PUT", "/myRegistry/register")]
    [TestCase("DELETE", "/myRegistry/unregister")]
    [TestCase("POST", "/myRegistry/findAllInstances")]
    [TestCase("HEAD", "/myRegistry/findAllInstances")]
    public async Task Unknown_path_or_wrong_method_on_a_known_path_is_404_Not_Found(string method, string path)
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path.TrimStart('/'), UriKind.Relative));
        using HttpResponseMessage response = await registry.Http.SendAsync(request);

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        if (method != "HEAD")
        {
            (await response.Content.ReadAsStringAsync()).ShouldBe("""{"error":"Not Found"}""");
        }
    }

    [TestCase("", "the body is empty")]
    [TestCase(" \r\n\t ", "the body is empty")]
    [TestCase("not json", "the body is not valid JSON")]
    [TestCase("{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": 8080", "the body is not valid JSON")]
    [TestCase("[1, 2]", "the body must be a JSON object")]
    [TestCase("\"json\"", "the body must be a JSON object")]
    [TestCase("{\"protocol\": \"json\", \"port\": 8080}", "missing \\\"host\\\"")]
    [TestCase("{\"protocol\": \"json\", \"host\": 127, \"port\": 8080}", "\\\"host\\\" must be a string")]
    [TestCase("{\"protocol\": \"json\", \"host\": \"not a host!\", \"port\": 8080}", "\\\"host\\\" is not a valid host name")]
    [TestCase("{\"protocol\": \"json\", \"host\": \"127.0.0.1\"}", "missing \\\"port\\\"")]
    [TestCase("{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": \"8080\"}", "\\\"port\\\" must be a whole number")]
    [TestCase("{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": 80.5}", "\\\"port\\\" must be a whole number")]
    [TestCase("{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": 0}", "between 1 and 65535, not 0")]
    [TestCase("{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": 65536}", "between 1 and 65535, not 65536")]
    [TestCase("{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": -1}", "between 1 and 65535, not -1")]
    [TestCase("{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": 99999999999}", "\\\"port\\\" must be a whole number")]
    [TestCase("{\"host\": \"127.0.0.1\", \"port\": 8080}", "missing \\\"protocol\\\"")]
    [TestCase("{\"protocol\": 1, \"host\": \"127.0.0.1\", \"port\": 8080}", "\\\"protocol\\\" must be a string")]
    [TestCase("{\"protocol\": \" \", \"host\": \"127.0.0.1\", \"port\": 8080}", "\\\"protocol\\\" must not be empty")]
    [TestCase("{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": 8080, \"status\": \"yes\"}", "\\\"status\\\" must be true or false")]
    [TestCase("{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": 8080, \"parameters\": []}", "\\\"parameters\\\" must be an object")]
    public async Task Bad_body_is_a_400_naming_the_problem_and_the_registry_keeps_serving(string body, string expectedError)
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        foreach (string path in new[] { RequestHandler.RegisterPath, RequestHandler.UnregisterPath })
        {
            using HttpResponseMessage response = await registry.PostJsonAsync(path, body);

            response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, path);
            string answer = await response.Content.ReadAsStringAsync();
            answer.ShouldStartWith("{\"error\":\"");
            answer.ShouldContain(expectedError);
        }

        registry.Service.Snapshot().Count.ShouldBe(0);
        await registry.RegisterAsync(8080);
        (await registry.FindAsync()).Count.ShouldBe(1);
    }

    [Test]
    public async Task Body_over_max_body_size_with_Content_Length_is_a_JSON_413_and_the_registry_keeps_serving()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        byte[] huge = Encoding.ASCII.GetBytes(new string(' ', 1024 * 1024));

        using HttpResponseMessage response = await registry.Http.PostAsync(
            new Uri("myRegistry/register", UriKind.Relative), new ByteArrayContent(huge));

        response.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
        (await response.Content.ReadAsStringAsync()).ShouldBe("""{"error":"the body is larger than the maximum of 65536 bytes"}""");
        await registry.RegisterAsync(8080);
        (await registry.FindAsync()).Count.ShouldBe(1);
    }

    [Test]
    public async Task Chunked_body_over_max_body_size_is_a_413_too()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        string padding = new(' ', 70 * 1024);

        string answer = await registry.SendRawAsync(
            "POST /myRegistry/register HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
            + $"{padding.Length:x}\r\n{padding}\r\n0\r\n\r\n");

        answer.ShouldStartWith("HTTP/1.1 413");
        answer.ShouldEndWith("""{"error":"the body is larger than the maximum of 65536 bytes"}""");
        await registry.RegisterAsync(8080);
        (await registry.FindAsync()).Count.ShouldBe(1);
    }

    [Test]
    public async Task Chunked_body_without_Content_Length_registers_normally()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        // A stream of unknown length makes HttpClient send Transfer-Encoding: chunked.
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(RunningRegistry.Instance(8080))));
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");

        using HttpResponseMessage response = await registry.Http.PostAsync(new Uri("myRegistry/register", UriKind.Relative), content);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await registry.FindAsync()).Select(i => i.Port).ShouldBe([8080]);
    }

    [Test]
    public async Task Body_cut_short_by_the_caller_does_not_hurt_the_next_request()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        // Promise 100 bytes, send 10, hang up: Kestrel sees the body end early.
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, registry.BaseUri.Port));
            await socket.SendAsync(Encoding.ASCII.GetBytes("POST /myRegistry/register HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"protocol"));
        }

        await registry.RegisterAsync(8080);
        (await registry.FindAsync()).Count.ShouldBe(1);
    }

    [TestCase("0.0.0.0")]
    [TestCase("::")]
    [TestCase("")]
    [TestCase("  ")]
    public async Task Wildcard_host_is_recorded_as_the_address_the_request_came_from(string wildcard)
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        using HttpResponseMessage response = await registry.PostJsonAsync(RequestHandler.RegisterPath, RunningRegistry.Instance(8080, host: wildcard));

        (await response.Content.ReadAsStringAsync()).ShouldBe(
            """{"protocol":"json","host":"127.0.0.1","port":8080,"status":true,"parameters":{}}""");
        (await registry.FindAsync()).Single().Host.ShouldBe("127.0.0.1");

        // Unregistering with the same wildcard removes the same entry.
        using HttpResponseMessage gone = await registry.PostJsonAsync(RequestHandler.UnregisterPath, RunningRegistry.Instance(8080, host: wildcard));
        (await registry.FindAsync()).ShouldBeEmpty();
    }

    [Test]
    public async Task Wildcard_host_over_IPv6_is_recorded_as_the_IPv6_caller_address()
    {
        Assume.That(Socket.OSSupportsIPv6, "IPv6 is not available");
        await using RunningRegistry registry = await RunningRegistry.StartAsync(RunningRegistry.TestSettings with { Host = "::1" });

        using HttpResponseMessage response = await registry.PostJsonAsync(RequestHandler.RegisterPath, RunningRegistry.Instance(8080, host: "0.0.0.0"));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await registry.FindAsync()).Single().Host.ShouldBe("::1");
        await registry.Log.WaitForLineAsync(@"Registered json://\[::1\]:8080$");
    }

    [Test]
    public async Task Thousand_concurrent_registrations_of_distinct_instances_are_all_found()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 256 };
        using var http = new HttpClient(handler) { BaseAddress = registry.BaseUri, Timeout = TestTimeouts.Unexpected };

        HttpResponseMessage[] responses = await Task.WhenAll(Enumerable.Range(1, 1000).Select(port =>
            http.PostAsync(new Uri("myRegistry/register", UriKind.Relative), new StringContent(RunningRegistry.Instance(port)))));

        responses.ShouldAllBe(response => response.StatusCode == HttpStatusCode.OK);
        foreach (HttpResponseMessage response in responses)
        {
            response.Dispose();
        }

        List<InstanceMeta> found = await registry.FindAsync();
        found.Count.ShouldBe(1000);
        found.Select(i => i.Port).ShouldBe(Enumerable.Range(1, 1000));
        registry.Service.Snapshot().Count.ShouldBe(1000);
    }
}
