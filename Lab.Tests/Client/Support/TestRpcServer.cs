using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Lab.Protocol.Framing;
using Lab.Protocol.Messages;

namespace Lab.Tests.Client.Support;

/// <summary>
/// A small server that speaks the RpcLab protocol with Lab.Protocol's framing and message types, so
/// the client can be tested against real sockets while the real server is built elsewhere. It knows
/// the lab's ten demo methods plus <c>echo</c>, <c>sleep</c>, <c>whoami</c> (its name, to tell
/// instances apart), <c>hold</c> (answers only when the test releases it) and <c>all_your_methods</c>;
/// and it counts connections so tests can see reuse and closing.
/// </summary>
public sealed class TestRpcServer : IAsyncDisposable
{
    public static readonly string[] MethodNames =
    [
        "add", "subtract", "multiply", "divide", "area_of_circle", "square", "to_uppercase", "reverse_string",
        "hi", "hello", "echo", "sleep", "whoami", "hold",
    ];

    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Socket, Task> _connections = new();
    private readonly ChangeSignal _changed = new();
    private TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _acceptLoop;
    private int _accepted;
    private int _calls;
    private int _heldCalls;
    private int _stopped;

    private TestRpcServer(string name, IPAddress address, int port)
    {
        Name = name;
        _listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(address, port));
        _listener.Listen(64);
        var bound = (IPEndPoint)_listener.LocalEndPoint!;
        Host = address.ToString();
        Port = bound.Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public string Name { get; }

    public string Host { get; }

    public int Port { get; }

    /// <summary><c>host:port</c> as the client names it.</summary>
    public string Address => Lab.Protocol.Discovery.HostAddress.Format(Host, Port);

    public int AcceptedConnections => Volatile.Read(ref _accepted);

    public int OpenConnections => _connections.Count;

    public int CallsAnswered => Volatile.Read(ref _calls);

    /// <summary>Calls of <c>hold</c> that arrived and wait for <see cref="ReleaseHeldCalls"/>.</summary>
    public int HeldCalls => Volatile.Read(ref _heldCalls);

    /// <param name="name">What <c>whoami</c> answers.</param>
    /// <param name="address">Listen address; IPv4 loopback by default.</param>
    /// <param name="port">0 for a free port; a stopped server's port to play a restarted server.</param>
    public static TestRpcServer Start(string name = "test", IPAddress? address = null, int port = 0) =>
        new(name, address ?? IPAddress.Loopback, port);

    public Task WaitUntilAsync(Func<TestRpcServer, bool> condition, string what) =>
        _changed.WaitUntilAsync(() => condition(this), $"{what} on server {Name}");

    public void ReleaseHeldCalls() =>
        Interlocked.Exchange(ref _release, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>
    /// Stops like a killed process: the listener closes (new connections are refused) and every open
    /// connection is closed at once, calls in progress included.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await FakeServerShutdown.StopAsync(_stopping, _listener, _connections, _acceptLoop);
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _connections[socket] = ServeAsync(socket, started.Task);
            started.SetResult();
            _changed.Notify();
        }
    }

    private async Task ServeAsync(Socket socket, Task registered)
    {
        // Wait until the accept loop has stored this task, so the removal below always finds it.
        await registered;
        try
        {
            await using var stream = new NetworkStream(socket, ownsSocket: true);
            var reader = new MessageReader(stream, 64 * 1024 * 1024);
            using var writer = new MessageWriter(stream);
            while (await reader.ReadMessageAsync(Timeout.InfiniteTimeSpan, _stopping.Token) is { } message)
            {
                using (JsonDocument document = JsonDocument.Parse(message))
                {
                    await AnswerAsync(RpcRequest.Parse(document.RootElement), writer.Json);
                }

                // Counted before sending, so a client that has its reply also sees it counted.
                Interlocked.Increment(ref _calls);
                await writer.SendAsync(_stopping.Token);
                _changed.Notify();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The test stopped the server, or the client went away: this connection is done.
        }
        finally
        {
            socket.Dispose();
            _connections.TryRemove(socket, out _);
            _changed.Notify();
        }
    }

    private async Task AnswerAsync(RpcRequest request, Utf8JsonWriter reply)
    {
        try
        {
            object? result = request.MethodName switch
            {
                "add" => Number(request, 0, "a") + Number(request, 1, "b") + Number(request, 2, "c", 10),
                "subtract" => Number(request, 0, "a") - Number(request, 1, "b"),
                "multiply" => Number(request, 0, "a") * Number(request, 1, "b"),
                "divide" => Number(request, 1, "b") == 0
                    ? throw new DivideByZeroException("Division by zero error!")
                    : Number(request, 0, "a") / Number(request, 1, "b"),
                "area_of_circle" => Math.PI * Math.Pow(Number(request, 0, "radius"), 2),
                "square" => Math.Pow(Number(request, 0, "number"), 2),
                "to_uppercase" => Text(request, 0, "string").ToUpperInvariant(),
                "reverse_string" => new string(Text(request, 0, "string").Reverse().ToArray()),
                "hi" => $"hi {Text(request, 0, "user")}, welcome",
                "hello" => $"Hello, {Text(request, 0, "name")}!",
                "echo" => Arg(request, 0, "payload"),
                "sleep" => await SleepAsync(Number(request, 0, "seconds")),
                "whoami" => Name,
                "hold" => await HoldAsync(),
                RpcRequest.DiscoveryMethodName => MethodNames.Select(name => new Dictionary<string, object> { ["method_name"] = name }).ToList(),
                _ => throw new MissingMethodException($"method {request.MethodName} not found"),
            };
            RpcReply.WriteSuccess(reply, result);
        }
        catch (MissingMethodException ex)
        {
            RpcReply.WriteError(reply, RpcErrorCode.MethodNotFound, ex.Message);
        }
        catch (ArgumentException ex)
        {
            RpcReply.WriteError(reply, RpcErrorCode.InvalidArguments, ex.Message);
        }
        catch (DivideByZeroException ex)
        {
            RpcReply.WriteError(reply, RpcErrorCode.MethodFailed, ex.Message);
        }
    }

    private async Task<object?> SleepAsync(double seconds)
    {
        await Task.Delay(TimeSpan.FromSeconds(seconds), _stopping.Token);
        return null;
    }

    private async Task<object?> HoldAsync()
    {
        Task released = Volatile.Read(ref _release).Task;
        Interlocked.Increment(ref _heldCalls);
        _changed.Notify();
        await released.WaitAsync(_stopping.Token);
        return "released";
    }

    // Numbers as double keep the test server simple; JSON writes 13.0 as 13, as the real server does.
    private static double Number(RpcRequest request, int position, string name, double? fallback = null)
    {
        JsonElement? value = TryArg(request, position, name);
        if (value is null)
        {
            return fallback ?? throw new ArgumentException($"missing argument {name}");
        }

        return value.Value.ValueKind == JsonValueKind.Number
            ? value.Value.GetDouble()
            : throw new ArgumentException($"{name} must be a number");
    }

    private static string Text(RpcRequest request, int position, string name) =>
        Arg(request, position, name) is { ValueKind: JsonValueKind.String } value
            ? value.GetString()!
            : throw new ArgumentException($"{name} must be a string");

    private static JsonElement Arg(RpcRequest request, int position, string name) =>
        TryArg(request, position, name) ?? throw new ArgumentException($"missing argument {name}");

    private static JsonElement? TryArg(RpcRequest request, int position, string name) =>
        position < request.Args.Count ? request.Args[position]
        : request.Kwargs.TryGetValue(name, out JsonElement value) ? value
        : null;
}
