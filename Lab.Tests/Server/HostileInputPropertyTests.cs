using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CsCheck;
using Lab.Protocol.Framing;
using Lab.Protocol.Messages;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Server;

/// <summary>
/// Property-based tests of the framing and request parsing (CsCheck): random bytes, random token soup and
/// mutated valid requests, each sent to a real server over TCP. Whatever arrives, every reply is a
/// well-formed reply or error, the connection ends cleanly, and the server goes on serving.
/// </summary>
public class HostileInputPropertyTests
{
    private const string AddRequest = """{"method_name": "add", "method_args": [1, 2]}""";

    // Pieces of requests, valid and hostile, that token soup is built from.
    private static readonly string[] Tokens =
    [
        "{", "}", "[", "]", ":", ",", " ", "\n", "\"method_name\"", "\"method_args\"", "\"method_kwargs\"", "\"add\"",
        "\"echo\"", "\"square\"", "\"c\"", "1", "-0.5", "1e309", "-1e400", "null", "true", "\"\"", "\"\\ud800\"",
        "\"\\u0000\"", "\"a\\\"b\"", "\"\u00e9\u4e2d\"", "\"\\x\"", "{\"c\": 1}", "[1, 2]", "\"<FF>\"", "9999999999999999999999",
    ];

    private static readonly Gen<byte[]> RandomBytes = Gen.Byte.Array[0, 80];

    private static readonly Gen<byte[]> TokenSoup =
        Gen.OneOf(Tokens).Array[0, 14].Select(tokens => Latin1OrUtf8(string.Concat(tokens)));

    // A valid request with one byte flipped, inserted or removed, or cut short.
    private static readonly Gen<byte[]> MutatedRequest =
        Gen.Select(Gen.Int[0, 1000], Gen.Byte, Gen.Int[0, 3], (position, value, kind) =>
        {
            List<byte> bytes = [.. Encoding.UTF8.GetBytes("""{"method_name": "add", "method_args": [1, 2], "method_kwargs": {"c": 5}}""")];
            int at = position % bytes.Count;
            switch (kind)
            {
                case 0: bytes[at] = value; break;
                case 1: bytes.Insert(at, value); break;
                case 2: bytes.RemoveAt(at); break;
                default: bytes.RemoveRange(at, bytes.Count - at); break;
            }

            return bytes.ToArray();
        });

    [Test]
    public async Task Any_bytes_get_well_formed_replies_a_clean_close_and_the_server_keeps_serving()
    {
        await using var server = new RunningTcpServer();

        await Gen.OneOf(RandomBytes, TokenSoup, MutatedRequest).SampleAsync(async input =>
        {
            // The hostile message, then a valid one on the same connection, then our half of the close.
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(server.EndPoint, TestTimeouts.UnexpectedToken());
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(input.Concat("\n"u8.ToArray()).Concat(Encoding.UTF8.GetBytes(AddRequest + "\n")).ToArray(), TestTimeouts.UnexpectedToken());
            socket.Shutdown(SocketShutdown.Send);

            // The server must end the connection by itself: read to the end, within the test deadline.
            List<JsonElement> replies = await ReadRepliesToTheEndAsync(stream);

            replies.ForEach(AssertWellFormedReply);
            if (IsOneJsonValue(input))
            {
                // Framing could find where the hostile message ended: the valid request behind it is served.
                replies.Count.ShouldBe(2, Encoding.UTF8.GetString(input));
                replies[1].GetRawText().ShouldBe("""{"res":13}""");
            }
        }, iter: 300, threads: 1);

        // And the server is still fine for a newcomer.
        await using RawRpcConnection client = await server.ConnectAsync();
        (await client.CallAsync(AddRequest)).GetRawText().ShouldBe("""{"res":13}""");
    }

    private static void AssertWellFormedReply(JsonElement reply)
    {
        reply.ValueKind.ShouldBe(JsonValueKind.Object);
        reply.TryGetProperty("res", out JsonElement res).ShouldBeTrue(reply.GetRawText());
        if (reply.TryGetProperty("error", out JsonElement error))
        {
            Enum.TryParse(error.GetProperty("code").GetString(), out RpcErrorCode _).ShouldBeTrue(reply.GetRawText());
            string message = error.GetProperty("message").GetString()!;
            message.ShouldNotBeNullOrWhiteSpace();
            message.Length.ShouldBeLessThan(300, reply.GetRawText());
            res.GetString().ShouldBe(message);
        }
    }

    private static async Task<List<JsonElement>> ReadRepliesToTheEndAsync(NetworkStream stream)
    {
        var replies = new List<JsonElement>();
        var reader = new MessageReader(stream, 1024 * 1024);
        try
        {
            while (await reader.ReadMessageAsync(TestTimeouts.Unexpected, TestTimeouts.UnexpectedToken()) is { } message)
            {
                using JsonDocument document = JsonDocument.Parse(message);
                replies.Add(document.RootElement.Clone());
            }
        }
        catch (IOException ex) when (ex is not FramingException)
        {
            // Reset by the server after its last reply: still a clean end for this property.
        }

        return replies;
    }

    // True when the bytes are exactly one JSON value (within the depth limit), so framing knows where it ends.
    private static bool IsOneJsonValue(byte[] input)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(input, new JsonDocumentOptions { MaxDepth = 64 });
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    // "<FF>" in a token stands for the raw byte 0xFF (invalid UTF-8); everything else is UTF-8.
    private static byte[] Latin1OrUtf8(string text) =>
        [.. text.Split("<FF>").SelectMany((part, i) => (i == 0 ? [] : new byte[] { 0xFF }).Concat(Encoding.UTF8.GetBytes(part)))];
}
