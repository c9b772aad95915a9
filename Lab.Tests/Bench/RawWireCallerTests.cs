using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Lab.Bench;
using Lab.Tests.Support;
using Lab.Protocol.Messages;

namespace Lab.Tests.Bench;

public class RawWireCallerTests
{
    [Test]
    public void Add_request_is_a_valid_wire_request_for_add_1_2()
    {
        using JsonDocument document = JsonDocument.Parse(RawWireCaller.BuildRequest(0));

        RpcRequest request = RpcRequest.Parse(document.RootElement);

        request.MethodName.ShouldBe("add");
        request.Args.Select(arg => arg.GetInt32()).ShouldBe([1, 2]);
    }

    [Test]
    public void Echo_request_carries_a_payload_of_exactly_the_requested_size()
    {
        using JsonDocument document = JsonDocument.Parse(RawWireCaller.BuildRequest(4096));

        RpcRequest request = RpcRequest.Parse(document.RootElement);

        request.MethodName.ShouldBe("echo");
        request.Args.Single().GetString()!.Length.ShouldBe(4096);
    }

    [Test]
    public async Task Persistent_caller_makes_every_call_on_one_connection()
    {
        await using var server = new ScriptedServer("{\"res\":13}\n");
        await using var caller = new RawWireCaller(server.Endpoint, 0, newConnectionPerCall: false);
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);

        await caller.OpenAsync(deadline.Token);
        for (int i = 0; i < 5; i++)
        {
            await caller.CallAsync(deadline.Token);
        }

        server.Connections.ShouldBe(1);
        server.Requests.ShouldBe(5);
    }

    [Test]
    public async Task New_connection_caller_connects_for_every_call()
    {
        await using var server = new ScriptedServer("{\"res\":13}\n");
        await using var caller = new RawWireCaller(server.Endpoint, 0, newConnectionPerCall: true);
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);

        for (int i = 0; i < 3; i++)
        {
            await caller.CallAsync(deadline.Token);
        }

        // Each call returns only after the server accepted its connection, so the count is final.
        server.Connections.ShouldBe(3);
    }

    [Test]
    public async Task Reply_whose_newline_arrives_in_a_later_packet_does_not_disturb_the_next_call()
    {
        await using var server = new ScriptedServer("{\"res\":13}", "\n");
        await using var caller = new RawWireCaller(server.Endpoint, 0, newConnectionPerCall: false);
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);

        await caller.CallAsync(deadline.Token);
        await caller.CallAsync(deadline.Token);

        server.Requests.ShouldBe(2);
    }

    [Test]
    public async Task Error_reply_fails_the_call()
    {
        await using var server = new ScriptedServer("{\"res\":\"nope\",\"error\":{\"code\":\"MethodNotFound\",\"message\":\"nope\"}}\n");
        await using var caller = new RawWireCaller(server.Endpoint, 0, newConnectionPerCall: false);
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);

        InvalidDataException error = await Should.ThrowAsync<InvalidDataException>(async () => await caller.CallAsync(deadline.Token));

        error.Message.ShouldContain("MethodNotFound");
    }

    [Test]
    public async Task Server_closing_mid_reply_fails_the_call()
    {
        await using var server = new ScriptedServer("{\"res\":", closeAfterReply: true);
        await using var caller = new RawWireCaller(server.Endpoint, 0, newConnectionPerCall: false);
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);

        IOException error = await Should.ThrowAsync<IOException>(async () => await caller.CallAsync(deadline.Token));

        error.Message.ShouldContain("closed the connection");
    }

    /// <summary>A server that answers every request with the same reply, written in the given pieces.</summary>
    private sealed class ScriptedServer : IAsyncDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly CancellationTokenSource _stopping = new();
        private readonly List<Task> _tasks = [];
        private readonly byte[][] _replyPieces;
        private readonly bool _closeAfterReply;
        private int _connections;
        private int _requests;

        public ScriptedServer(string reply, string? replyRest = null, bool closeAfterReply = false)
        {
            _replyPieces = replyRest is null ? [Encoding.UTF8.GetBytes(reply)] : [Encoding.UTF8.GetBytes(reply), Encoding.UTF8.GetBytes(replyRest)];
            _closeAfterReply = closeAfterReply;
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen();
            Endpoint = (IPEndPoint)_listener.LocalEndPoint!;
            _tasks.Add(AcceptAsync());
        }

        public IPEndPoint Endpoint { get; }

        public int Connections => Volatile.Read(ref _connections);

        public int Requests => Volatile.Read(ref _requests);

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    Socket socket = await _listener.AcceptAsync(_stopping.Token);
                    Interlocked.Increment(ref _connections);
                    lock (_tasks)
                    {
                        _tasks.Add(ServeAsync(socket));
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            using (socket)
            {
                var scanner = new JsonMessageScanner();
                byte[] buffer = new byte[4096];
                int end = 0;
                try
                {
                    while (true)
                    {
                        int read = await socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, _stopping.Token);
                        if (read == 0)
                        {
                            return;
                        }

                        end += read;
                        int start = JsonMessageScanner.CountLeadingWhitespace(buffer.AsSpan(0, end));
                        if (scanner.Scan(buffer.AsSpan(start, end - start), out _) != ScanResult.Complete)
                        {
                            continue;
                        }

                        scanner.Reset();
                        end = 0;
                        Interlocked.Increment(ref _requests);
                        foreach (byte[] piece in _replyPieces)
                        {
                            await socket.SendAsync(piece, SocketFlags.None, _stopping.Token);
                        }

                        if (_closeAfterReply)
                        {
                            return;
                        }
                    }
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException)
                {
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stopping.CancelAsync();
            _listener.Dispose();
            Task[] tasks;
            lock (_tasks)
            {
                tasks = [.. _tasks];
            }

            await Task.WhenAll(tasks).WaitAsync(TestTimeouts.Unexpected);
            _stopping.Dispose();
        }
    }
}
