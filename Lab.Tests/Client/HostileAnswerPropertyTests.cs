using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CsCheck;
using Lab.Client;
using Lab.Client.Transport;
using Lab.Protocol.Discovery;
using Lab.Protocol.Framing;
using Lab.Protocol.Settings;
using Lab.Tests.Client.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lab.Tests.Client;

/// <summary>
/// Property-based tests (CsCheck) of what the client reads from peers, the mirror of the server's
/// <c>HostileInputPropertyTests</c>: random and mutated replies from a server over real TCP, and random
/// entries in a registry's answer over real HTTP. Whatever arrives, a call ends with a value or one of
/// the client's typed errors (never another exception), a connection that stays in use stays in step,
/// and discovery keeps every entry it can read and skips the others one at a time.
/// </summary>
public class HostileAnswerPropertyTests
{
    // Pieces of replies, valid and hostile, that token soup is built from.
    private static readonly string[] ReplyTokens =
    [
        "{", "}", "[", "]", ":", ",", " ", "\n", "\"res\"", "\"error\"", "\"code\"", "\"message\"", "\"MethodFailed\"",
        "\"ServerBusy\"", "\"NoSuchCode\"", "13", "-0.5", "1e309", "null", "true", "\"\"", "\"\\ud800\"", "\"\\u001b[31m\"",
        "\"<FF>\"", "{\"res\": 1}", "{\"res\": 2}\n", "\"\u00e9\u4e2d\"", "9999999999999999999999",
    ];

    // Replies a server might send: well-formed ones, then the same with one byte changed, inserted or removed,
    // cut short, or followed by more.
    private static readonly string[] Replies =
    [
        """{"res": 13}""", """{"res": "hi bob, welcome"}""", """{"res": [1, 2, {"a": null}]}""",
        """{"res": "boom", "error": {"code": "MethodFailed", "message": "boom"}}""",
        """{"res": "busy", "error": {"code": "ServerBusy", "message": "busy"}}""",
    ];

    private static readonly Gen<byte[]> TokenSoup = Gen.OneOf(ReplyTokens).Array[1, 12].Select(tokens => Latin1OrUtf8(string.Concat(tokens)));

    private static readonly Gen<byte[]> MutatedReply =
        Gen.Select(Gen.OneOf(Replies), Gen.Int[0, 1000], Gen.Byte, Gen.Int[0, 4], Gen.OneOf(ReplyTokens), (reply, position, value, kind, tail) =>
        {
            List<byte> bytes = [.. Encoding.UTF8.GetBytes(reply)];
            int at = position % bytes.Count;
            switch (kind)
            {
                case 0: bytes[at] = value; break;
                case 1: bytes.Insert(at, value); break;
                case 2: bytes.RemoveAt(at); break;
                case 3: bytes.RemoveRange(at, bytes.Count - at); break;
                default: bytes.AddRange(Latin1OrUtf8(tail)); break;
            }

            return bytes.ToArray();
        });

    [Test]
    public async Task Any_reply_ends_the_call_with_a_value_or_a_typed_error_and_a_reused_connection_stays_in_step()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        // Short waits: a reply cut short must cost this test a fraction of a second, not the default timeouts.
        ClientSettings settings = ClientTestSettings.Fast with { CallTimeout = TimeSpan.FromSeconds(0.2), ReadTimeout = TimeSpan.FromSeconds(0.2) };

        await Gen.OneOf(TokenSoup, MutatedReply, Gen.OneOf(Replies).Select(Encoding.UTF8.GetBytes)).SampleAsync(async reply =>
        {
            using var pool = new PoolOfOne(listener, settings);
            ServerConnection connection = await pool.ConnectAsync(port);
            // Read as a caller would: a string with GetString (which cannot hold "\ud800"), anything else as JSON text.
            Task<Exception?> first = Outcome(() => connection.CallAsync("add", [1, 2], null,
                result => result.ValueKind == JsonValueKind.String ? result.GetString() : result.GetRawText()));
            await pool.AnswerAsync(reply);

            Exception? failure = await first;
            if (failure is not null)
            {
                Typed.ShouldContain(failure.GetType(), $"{failure.GetType().Name}: {failure.Message} for {Encoding.Latin1.GetString(reply)}");
            }

            // A connection the pool would hand out again must answer the next call with the next reply.
            if (connection.IsReusable())
            {
                Task<string> second = connection.CallAsync("add", [3, 4], null, result => result.GetRawText());
                await pool.AnswerAsync("""{"res": "next"}"""u8.ToArray());
                (await second).ShouldBe("\"next\"", Encoding.Latin1.GetString(reply));
            }
        }, iter: 200, threads: 1);
    }

    [Test]
    public void Any_entry_text_is_an_instance_or_a_FormatException()
    {
        Gen<byte[]> entries = Gen.OneOf(
            Gen.Byte.Array[0, 60],
            Gen.OneOf(EntryTokens).Array[1, 14].Select(tokens => Latin1OrUtf8(string.Concat(tokens))),
            Gen.Select(Gen.OneOf(EntryTokens), Gen.OneOf(EntryTokens), Gen.OneOf(EntryTokens), (protocol, host, parameters) =>
                Latin1OrUtf8($$"""{"protocol": {{protocol}}, "host": {{host}}, "port": 8001, "parameters": {{parameters}}}""")));

        entries.Sample(entry =>
        {
            InstanceMeta instance;
            try
            {
                instance = InstanceMeta.Parse(entry);
            }
            catch (FormatException ex)
            {
                ex.Message.ShouldNotBeNullOrWhiteSpace();
                return;
            }

            // Whatever was accepted can be used, printed and compared without surprises.
            instance.ToString().ShouldNotBeNullOrWhiteSpace();
            instance.Protocol.ShouldAllBe(c => char.IsAsciiLetterOrDigit(c) || c == '.' || c == '_' || c == '-' || c == '+');
            _ = instance.Weight;
            _ = instance.Key;
        }, iter: 3000);
    }

    [Test]
    public async Task A_registry_answer_mixing_good_and_hostile_entries_yields_exactly_the_good_ones()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        // A zero heartbeat timeout: an empty answer is believed at once (no restart grace), so every answer counts as given.
        // The answers are the subject, not the timeout: a busy machine once took longer than the fast 5 s for one of the 60.
        await using RegistryClient client = new(registry.Settings with { HeartbeatTimeout = TimeSpan.Zero },
            ClientTestSettings.Fast with { PollInterval = TimeSpan.FromHours(1), RegistryTimeout = TestTimeouts.Unexpected }, NullLogger<RegistryClient>.Instance);
        await client.StartAsync();
        // Each entry a whole JSON value, however hostile inside: an answer that is not a JSON array at all is an
        // unreadable answer (the cache is kept, see RegistryClientTests), not a list with bad entries.
        Gen<byte[]> hostile = Gen.OneOf(EntryTokens.Select(Latin1OrUtf8).Where(IsOneJsonValue).ToArray());

        await Gen.Select(Gen.Int[0, 3], hostile.Array[0, 4]).SampleAsync(async sample =>
        {
            (int goodCount, byte[][] bad) = sample;
            byte[][] good = [.. Enumerable.Range(0, goodCount).Select(i => Encoding.UTF8.GetBytes($$"""{"protocol": "json", "host": "127.0.0.1", "port": {{9000 + i}}}"""))];
            byte[][] all = [.. good, .. bad];
            byte[] answer = [.. "["u8, .. all.SelectMany((entry, i) => i == 0 ? entry : [(byte)',', .. entry]), .. "]"u8];
            registry.AnswerRaw(FakeRegistry.Bytes(200, answer));

            (await client.RefreshAsync()).ShouldBeTrue(Encoding.Latin1.GetString(answer));

            // Every entry is judged on its own: the good ones, plus any hostile one that is a readable json instance.
            int readable = bad.Count(entry => IsUsable(entry));
            client.Instances.Count.ShouldBe(goodCount + readable, Encoding.Latin1.GetString(answer));
        }, iter: 60, threads: 1);
    }

    // Entries of a registry's answer, hostile and not, and the pieces they are built from.
    private static readonly string[] EntryTokens =
    [
        "{", "}", "[", "]", ":", ",", "\"json\"", "\"JSON\"", "\"xml\"", "\"j\\u001bson\"", "\"\"", "\"\\ud800\"", "\"<FF>\"", "\"127.0.0.1\"",
        "\"::1\"", "\"0.0.0.0\"", "\"1.2.3\"", "\"host name\"", "8001", "70000", "null", "true", "{}", "{\"weight\": 2}", "{\"\\ud800\": 1}",
        "{\"<FF>\": 1}", "{\"w\": 1, \"w\": 2}", "\"protocol\"", "\"host\"", "\"port\"",
        "{\"protocol\": \"json\", \"host\": \"127.0.0.2\", \"port\": 8100}",
        "{\"protocol\": \"json\", \"host\": \"bad\\ud800\", \"port\": 8101}",
        "{\"protocol\": \"json\", \"host\": \"127.0.0.3\", \"port\": 8102, \"parameters\": {\"n\": \"<FF>\"}}",
        "{\"protocol\": \"json\", \"host\": \"127.0.0.4\", \"port\": 8103, \"host\": \"127.0.0.5\"}",
        "{\"protocol\": \"json\\u001b[31m\", \"host\": \"127.0.0.6\", \"port\": 8104}",
        "{\"protocol\": \"json\", \"host\": \"127.0.0.7\", \"port\": 8105, \"parameters\": {\"\\ud800\": 1}}",
    ];

    // Every typed error a call may end with; anything else escaping is a bug.
    private static readonly Type[] Typed =
    [
        typeof(RpcReadException), typeof(RpcCallTimeoutException), typeof(RpcRemoteException), typeof(RpcServerBusyException), typeof(JsonException),
    ];

    private static bool IsOneJsonValue(byte[] text)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(text, Lab.Protocol.ProtocolJson.ListOptions);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    // What the cache keeps of an entry that parses: healthy json instances with a host that can be dialled.
    private static bool IsUsable(byte[] entry)
    {
        try
        {
            InstanceMeta instance = InstanceMeta.Parse(entry);
            return instance.Status && !HostAddress.IsWildcard(instance.Host) && instance.Protocol.Equals(InstanceMeta.JsonProtocol, StringComparison.OrdinalIgnoreCase);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static async Task<Exception?> Outcome(Func<Task> call)
    {
        try
        {
            await call();
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    // "<FF>" in a token stands for the raw byte 0xFF (invalid UTF-8); everything else is UTF-8.
    private static byte[] Latin1OrUtf8(string text) =>
        [.. text.Split("<FF>").SelectMany((part, i) => (i == 0 ? [] : new byte[] { 0xFF }).Concat(Encoding.UTF8.GetBytes(part)))];

    // One client connection and the server's end of it, played by the test: it reads each request and
    // answers with exactly the bytes it is given.
    private sealed class PoolOfOne(TcpListener listener, ClientSettings settings) : IDisposable
    {
        private Socket? _server;
        private MessageReader? _requests;
        private ServerConnection? _client;

        public async Task<ServerConnection> ConnectAsync(int port)
        {
            Task<Socket> accepting = listener.AcceptSocketAsync(TestTimeouts.UnexpectedToken()).AsTask();
            _client = await ServerConnection.ConnectAsync("127.0.0.1", port, settings);
            _server = await accepting;
            _requests = new MessageReader(new NetworkStream(_server, ownsSocket: false), 1024 * 1024);
            return _client;
        }

        public async Task AnswerAsync(byte[] reply)
        {
            (await _requests!.ReadMessageAsync(TestTimeouts.Unexpected, TestTimeouts.UnexpectedToken())).ShouldNotBeNull("the client's request");
            await _server!.SendAsync(reply, TestTimeouts.UnexpectedToken());
        }

        public void Dispose()
        {
            _client?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _server?.Dispose();
        }
    }
}
