using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Lab.Protocol.Framing;

namespace Lab.Tests.Server.Support;

/// <summary>
/// A raw TCP peer for server tests: writes hand-made bytes (valid, split, garbage, half messages)
/// and reads the server's replies. Every wait is bounded by <see cref="TestTimeouts.Unexpected"/>.
/// </summary>
internal sealed class WireClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly MessageReader _reader;

    private WireClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new MessageReader(_stream, 16 * 1024 * 1024);
    }

    public static async Task<WireClient> ConnectAsync(IPEndPoint server, int? receiveBufferSize = null)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize is { } size)
        {
            // Set before connecting, so the TCP window is small from the start.
            socket.ReceiveBufferSize = size;
        }

        await socket.ConnectAsync(server, TestTimeouts.UnexpectedToken());
        return new WireClient(socket);
    }

    /// <summary>Connects to a loopback server: the listener may be bound to a wildcard.</summary>
    public static Task<WireClient> ConnectAsync(int port) => ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes, TestTimeouts.UnexpectedToken());

    /// <summary>Reads one reply and returns its exact text (without the trailing newline).</summary>
    public async Task<string> ReadReplyTextAsync()
    {
        ReadOnlyMemory<byte>? message = await _reader.ReadMessageAsync(TestTimeouts.Unexpected, TestTimeouts.UnexpectedToken());
        return message is { } bytes ? Encoding.UTF8.GetString(bytes.Span) : throw new IOException("the server closed the connection instead of replying");
    }

    /// <summary>Reads one reply as JSON.</summary>
    public async Task<JsonElement> ReadReplyAsync()
    {
        using JsonDocument document = JsonDocument.Parse(await ReadReplyTextAsync());
        return document.RootElement.Clone();
    }

    /// <summary>Sends one request and reads its reply.</summary>
    public async Task<JsonElement> CallAsync(string requestJson)
    {
        await SendAsync(requestJson);
        return await ReadReplyAsync();
    }

    /// <summary>Waits until the server closes the connection (a clean close or a reset both count).</summary>
    public async Task WaitForCloseAsync()
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (await _stream.ReadAsync(buffer, TestTimeouts.UnexpectedToken()) > 0)
            {
            }
        }
        catch (IOException)
        {
            // Reset by the server: closed.
        }
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        return ValueTask.CompletedTask;
    }
}
