using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Lab.Hosting;
using Lab.Protocol.Settings;
using Lab.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Lab.Tests.Registry;

/// <summary>
/// A real registry (Kestrel on 127.0.0.1, a free port) hosted in the test process, with a fake clock,
/// captured log lines and an <see cref="HttpClient"/> pointed at it. Dispose stops it.
/// </summary>
public sealed class RunningRegistry : IAsyncDisposable
{
    /// <summary>Health check every 1 s, evict after 3 s of silence: on the fake clock, never waited for.</summary>
    public static readonly RegistrySettings TestSettings = new()
    {
        Host = "127.0.0.1",
        Port = 0,
        HealthCheckInterval = TimeSpan.FromSeconds(1),
        HeartbeatTimeout = TimeSpan.FromSeconds(3),
        MaxBodySize = 64 * 1024,
    };

    private RunningRegistry(WebApplication app, FakeTimeProvider clock, LogRecorder log)
    {
        App = app;
        Clock = clock;
        Log = log;
        BaseUri = new Uri(app.Urls.First());
        Http = new HttpClient { BaseAddress = BaseUri, Timeout = TestTimeouts.Unexpected };
    }

    public WebApplication App { get; }

    public FakeTimeProvider Clock { get; }

    public LogRecorder Log { get; }

    public Uri BaseUri { get; }

    public HttpClient Http { get; }

    public RegistryService Service => App.Services.GetRequiredService<RegistryService>();

    public static async Task<RunningRegistry> StartAsync(RegistrySettings? settings = null)
    {
        var clock = new FakeTimeProvider();
        var log = new LogRecorder();
        WebApplication app = RegistryApp.Build(
            settings ?? TestSettings,
            new LogSettings { Level = LogLevel.Debug },
            clock,
            // Captured instead of printed: a failing wait shows every line in its message.
            logging =>
            {
                logging.ClearProviders();
                logging.AddProvider(log);
            });
        try
        {
            using var startTimeout = new CancellationTokenSource(TestTimeouts.Unexpected);
            await app.StartAsync(startTimeout.Token);
            return new RunningRegistry(app, clock, log);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>Posts a JSON body to a registry path and returns the answer.</summary>
    public Task<HttpResponseMessage> PostJsonAsync(string path, string json) =>
        Http.PostAsync(new Uri(path.TrimStart('/'), UriKind.Relative), new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    /// <summary>Registers 127.0.0.1:<paramref name="port"/> and checks the answer is 200.</summary>
    public async Task RegisterAsync(int port, string protocol = "json")
    {
        using HttpResponseMessage response = await PostJsonAsync(RequestHandler.RegisterPath, Instance(port, protocol));
        response.EnsureSuccessStatusCode();
    }

    /// <summary>The discovery answer for one protocol, parsed.</summary>
    public async Task<List<Lab.Protocol.Discovery.InstanceMeta>> FindAsync(string protocol = "json") =>
        await Http.GetFromJsonAsync<List<Lab.Protocol.Discovery.InstanceMeta>>(
            new Uri($"myRegistry/findAllInstances?proto={protocol}", UriKind.Relative)) ?? [];

    public static string Instance(int port, string protocol = "json", string host = "127.0.0.1") =>
        "{\"protocol\": \"" + protocol + "\", \"host\": \"" + host + "\", \"port\": "
        + port.ToString(System.Globalization.CultureInfo.InvariantCulture) + ", \"status\": true, \"parameters\": {}}";

    /// <summary>Sends each part as its own write, then reads until the registry closes the connection (a test
    /// that times out here means the registry kept the connection open). Returns the raw answer.</summary>
    public async Task<string> SendAndReadToCloseAsync(params string[] parts)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Unexpected);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, BaseUri.Port), timeout.Token);
        foreach (string part in parts)
            await socket.SendAsync(Encoding.UTF8.GetBytes(part), timeout.Token);

        var answer = new List<byte>();
        var buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, timeout.Token)) > 0)
            answer.AddRange(buffer.AsSpan(0, read));
        return Encoding.UTF8.GetString(answer.ToArray());
    }

    /// <summary>Writes raw bytes to the registry and reads the whole answer: the status line, a space, and the JSON body.</summary>
    public async Task<string> SendRawAsync(string request)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Unexpected);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, BaseUri.Port), timeout.Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
        // No half-close (Shutdown(Send)) here: Kestrel takes it for an aborted request and answers nothing.
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        int read;
        while (!answer.ToString().EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal)
               && (read = await socket.ReceiveAsync(buffer, timeout.Token)) > 0)
        {
            answer.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }

        string text = answer.ToString();
        // The body is chunked: keep the JSON, drop the chunk-size lines.
        string body = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        string json = string.Concat(body.Split("\r\n").Where(part => part.StartsWith('{')));
        return text[..text.IndexOf("\r\n", StringComparison.Ordinal)] + " " + json;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using var stopTimeout = new CancellationTokenSource(TestTimeouts.Unexpected);
        await App.StopAsync(stopTimeout.Token);
        await App.DisposeAsync();
    }
}
