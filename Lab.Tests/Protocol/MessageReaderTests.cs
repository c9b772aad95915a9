using System.Text;
using Lab.Protocol.Framing;

namespace Lab.Tests.Protocol;

/// <summary>
/// Framing on a TCP byte stream (lab requirements §3, the lab's "sticky packet" lesson): where one message ends
/// and the next begins, whatever way the bytes are cut into reads.
/// </summary>
[Parallelizable(ParallelScope.All)]
public class MessageReaderTests
{
    private static readonly TimeSpan NoDeadline = Timeout.InfiniteTimeSpan;

    // Braces, brackets, escaped quotes and backslashes inside strings, nesting, non-ASCII text:
    // everything a naive "count the braces" or "split at }" reader gets wrong.
    private const string Tricky = """{"method_name":"echo","method_args":["}{ \"quoted\" ][","back\\slash\\\"",{"deep":[1,{"x":"}"}]}],"method_kwargs":{"名字":"你好 \u00e9"}}""";

    [Test]
    public async Task Two_messages_in_one_read_come_out_one_at_a_time()
    {
        var reader = new MessageReader(new MemoryStream("{\"a\":1}\n{\"b\":2}\n"u8.ToArray()), 1024);

        string? first = await ReadTextAsync(reader);
        string? second = await ReadTextAsync(reader);
        string? end = await ReadTextAsync(reader);

        first.ShouldBe("{\"a\":1}");
        second.ShouldBe("{\"b\":2}");
        end.ShouldBeNull();
    }

    [Test]
    public async Task Message_arriving_one_byte_per_read_comes_out_whole()
    {
        byte[] bytes = Encoding.UTF8.GetBytes(Tricky + "\n" + Tricky);
        var reader = new MessageReader(ScriptedStream.OneBytePerRead(bytes), 4096);

        (await ReadTextAsync(reader)).ShouldBe(Tricky);
        (await ReadTextAsync(reader)).ShouldBe(Tricky);
        (await ReadTextAsync(reader)).ShouldBeNull();
    }

    [Test]
    public async Task Message_split_across_two_reads_at_every_byte_boundary_comes_out_whole()
    {
        byte[] bytes = Encoding.UTF8.GetBytes(Tricky + "\n");
        for (int split = 1; split < bytes.Length; split++)
        {
            var reader = new MessageReader(new ScriptedStream([bytes[..split], bytes[split..]]), 4096);

            (await ReadTextAsync(reader)).ShouldBe(Tricky, $"split at byte {split}");
            (await ReadTextAsync(reader)).ShouldBeNull($"split at byte {split}");
        }
    }

    [Test]
    public async Task Many_messages_in_one_read_come_out_in_order()
    {
        string stream = string.Concat(Enumerable.Range(0, 500).Select(i => $"{{\"n\":{i},\"s\":\"{{}}\"}}\n"));
        var reader = new MessageReader(new ScriptedStream([Encoding.UTF8.GetBytes(stream)]), 1024);

        for (int i = 0; i < 500; i++)
        {
            (await ReadTextAsync(reader)).ShouldBe($"{{\"n\":{i},\"s\":\"{{}}\"}}");
        }

        (await ReadTextAsync(reader)).ShouldBeNull();
    }

    [Test]
    public async Task Messages_cut_into_odd_sized_reads_come_out_exactly()
    {
        string[] messages = Enumerable.Range(0, 200).Select(i => $"{{\"i\":{i},\"pad\":\"{new string('x', i * 7 % 300)}\"}}").ToArray();
        byte[] all = Encoding.UTF8.GetBytes(string.Join("\n", messages));
        var random = new Random(1234);
        var chunks = new List<byte[]>();
        for (int at = 0; at < all.Length;)
        {
            int size = Math.Min(random.Next(1, 700), all.Length - at);
            chunks.Add(all[at..(at + size)]);
            at += size;
        }

        var reader = new MessageReader(new ScriptedStream(chunks), 1024);

        foreach (string expected in messages)
        {
            (await ReadTextAsync(reader)).ShouldBe(expected);
        }

        (await ReadTextAsync(reader)).ShouldBeNull();
    }

    [Test]
    public async Task One_MiB_message_over_a_real_socket_comes_out_whole()
    {
        const int maxMessageSize = 1024 * 1024;
        string prefix = "{\"method_name\":\"echo\",\"method_args\":[\"";
        string suffix = "\"]}";
        string message = prefix + new string('a', maxMessageSize - prefix.Length - suffix.Length) + suffix;
        Encoding.UTF8.GetByteCount(message).ShouldBe(maxMessageSize);
        await using SocketPair pair = await SocketPair.ConnectAsync();
        var reader = new MessageReader(pair.ServerStream, maxMessageSize);

        Task send = pair.ClientStream.WriteAsync(Encoding.UTF8.GetBytes(message + "\n" + message)).AsTask();
        string? first = await ReadTextAsync(reader);
        string? second = await ReadTextAsync(reader);
        await send.WaitAsync(TestTimeouts.Unexpected);

        first.ShouldBe(message);
        second.ShouldBe(message);
    }

    [Test]
    public async Task Whitespace_before_between_and_after_messages_is_skipped()
    {
        var reader = new MessageReader(new ScriptedStream([" \r\n\t{\"a\":1}  \n\n \t"u8.ToArray(), "\r\n {\"b\" : [ 1 , 2 ] }\n\n  "u8.ToArray()]), 1024);

        (await ReadTextAsync(reader)).ShouldBe("{\"a\":1}");
        (await ReadTextAsync(reader)).ShouldBe("{\"b\" : [ 1 , 2 ] }");
        (await ReadTextAsync(reader)).ShouldBeNull("trailing whitespace is not a started message");
    }

    [Test]
    public async Task Messages_without_any_newline_are_found_by_parsing()
    {
        var reader = new MessageReader(new ScriptedStream(["{\"a\":1}{\"b\":\"}\"}[3,4]"u8.ToArray(), "{\"c\":"u8.ToArray(), "5}"u8.ToArray()]), 1024);

        (await ReadTextAsync(reader)).ShouldBe("{\"a\":1}");
        (await ReadTextAsync(reader)).ShouldBe("{\"b\":\"}\"}");
        (await ReadTextAsync(reader)).ShouldBe("[3,4]");
        (await ReadTextAsync(reader)).ShouldBe("{\"c\":5}");
        (await ReadTextAsync(reader)).ShouldBeNull();
    }

    [Test]
    public async Task Message_of_exactly_the_maximum_size_is_accepted()
    {
        byte[] message = Encoding.UTF8.GetBytes("{\"s\":\"" + new string('x', 94) + "\"}");
        message.Length.ShouldBe(102);
        var reader = new MessageReader(new ScriptedStream([message]), maxMessageSize: 102);

        (await reader.ReadMessageAsync(NoDeadline))!.Value.Length.ShouldBe(102);
    }

    [Test]
    public async Task Oversized_message_arriving_in_pieces_is_MessageTooLarge()
    {
        byte[] message = Encoding.UTF8.GetBytes("{\"s\":\"" + new string('x', 200) + "\"}");
        var reader = new MessageReader(new ScriptedStream(message.Chunk(10)), maxMessageSize: 100);

        MessageTooLargeException error = await Should.ThrowAsync<MessageTooLargeException>(() => reader.ReadMessageAsync(NoDeadline).AsTask());

        error.Message.ShouldContain("maximum of 100 bytes");
    }

    [Test]
    public async Task Oversized_message_complete_in_one_read_is_MessageTooLarge()
    {
        byte[] message = Encoding.UTF8.GetBytes("{\"s\":\"" + new string('x', 200) + "\"}\n");
        var reader = new MessageReader(new ScriptedStream([message]), maxMessageSize: 100);

        await Should.ThrowAsync<MessageTooLargeException>(() => reader.ReadMessageAsync(NoDeadline).AsTask());
    }

    [Test]
    public async Task Endless_message_stops_at_the_maximum_size_instead_of_growing_without_bound()
    {
        // {"s":"aaaa... a string that never closes.
        var stream = new EndlessStream("a"u8.ToArray(), prefix: "{\"s\":\""u8.ToArray());
        var reader = new MessageReader(stream, maxMessageSize: 64 * 1024);

        await Should.ThrowAsync<MessageTooLargeException>(() => reader.ReadMessageAsync(NoDeadline).AsTask());

        stream.BytesServed.ShouldBeLessThanOrEqualTo(2 * 64 * 1024);
    }

    [TestCase("hello")]
    [TestCase("}")]
    [TestCase("]")]
    [TestCase("{\"a\" 1}")]
    [TestCase("{\"a\":1,}")]
    [TestCase("{'a':1}")]
    [TestCase("{\"a\":\"bad \\q escape\"}")]
    [TestCase("\u0000\u0001\u0002")]
    [TestCase("GET / HTTP/1.1\r\n\r\n")]
    public async Task Garbage_is_MalformedMessage(string garbage)
    {
        var reader = new MessageReader(new ScriptedStream([Encoding.UTF8.GetBytes(garbage)], stallAtEnd: true), 1024);

        await Should.ThrowAsync<MalformedMessageException>(() => reader.ReadMessageAsync(NoDeadline).AsTask().WaitAsync(TestTimeouts.Unexpected));
    }

    [Test]
    public async Task Garbage_after_a_good_message_fails_only_the_next_read()
    {
        var reader = new MessageReader(new ScriptedStream(["{\"a\":1}\nxyz"u8.ToArray()]), 1024);

        (await ReadTextAsync(reader)).ShouldBe("{\"a\":1}");
        await Should.ThrowAsync<MalformedMessageException>(() => reader.ReadMessageAsync(NoDeadline).AsTask());
    }

    [Test]
    public async Task Endless_garbage_is_MalformedMessage_at_once_not_a_loop()
    {
        var stream = new EndlessStream("not json at all "u8.ToArray());
        var reader = new MessageReader(stream, maxMessageSize: 1024 * 1024);

        await Should.ThrowAsync<MalformedMessageException>(() => reader.ReadMessageAsync(NoDeadline).AsTask().WaitAsync(TestTimeouts.Unexpected));

        stream.BytesServed.ShouldBeLessThanOrEqualTo(4096, "one read is enough to see it is not JSON");
    }

    [Test]
    public async Task Nesting_deeper_than_64_levels_is_MalformedMessage()
    {
        var stream = new EndlessStream("["u8.ToArray());
        var reader = new MessageReader(stream, maxMessageSize: 1024 * 1024);

        await Should.ThrowAsync<MalformedMessageException>(() => reader.ReadMessageAsync(NoDeadline).AsTask().WaitAsync(TestTimeouts.Unexpected));
    }

    [Test]
    public async Task Peer_closing_mid_message_is_IncompleteMessage_with_the_bytes_received()
    {
        await using SocketPair pair = await SocketPair.ConnectAsync();
        var reader = new MessageReader(pair.ServerStream, 1024);

        await pair.ClientStream.WriteAsync("{\"method_name\":\"ad"u8.ToArray());
        pair.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);

        IncompleteMessageException error = await Should.ThrowAsync<IncompleteMessageException>(() => reader.ReadMessageAsync(NoDeadline).AsTask().WaitAsync(TestTimeouts.Unexpected));
        error.Message.ShouldContain("18 bytes received");
    }

    [Test]
    public async Task Half_a_message_then_silence_is_MessageReadTimeout_after_the_rest_of_message_timeout()
    {
        await using SocketPair pair = await SocketPair.ConnectAsync();
        var reader = new MessageReader(pair.ServerStream, 1024);

        await pair.ClientStream.WriteAsync("{\"method_name\":"u8.ToArray());

        MessageReadTimeoutException error = await Should.ThrowAsync<MessageReadTimeoutException>(
            () => reader.ReadMessageAsync(TestTimeouts.Expected).AsTask().WaitAsync(TestTimeouts.Unexpected));
        error.Message.ShouldBe("timed out after 0.2 s waiting for the rest of a message (15 bytes received)");
    }

    [Test]
    public async Task Idle_connection_between_messages_is_not_put_on_a_deadline()
    {
        var stream = new ScriptedStream(["{\"a\":1}\n"u8.ToArray(), "{\"b\":"u8.ToArray()], stallAtEnd: true);
        var reader = new MessageReader(stream, 1024);

        (await ReadTextAsync(reader)).ShouldBe("{\"a\":1}");
        // The next read starts idle (the trailing newline is not a started message): without a caller's
        // token that read cannot be cancelled at all, so no deadline can end an idle connection. Then
        // "{"b":" starts a message, and the read after it carries the rest-of-message deadline.
        await Should.ThrowAsync<MessageReadTimeoutException>(() => reader.ReadMessageAsync(TestTimeouts.Expected).AsTask().WaitAsync(TestTimeouts.Unexpected));

        stream.ReadTokenCanBeCanceled.ShouldBe([false, false, true]);
    }

    [Test]
    public async Task Idle_read_ends_only_when_the_caller_cancels_and_then_as_a_cancellation()
    {
        var reader = new MessageReader(new ScriptedStream([], stallAtEnd: true), 1024);
        using var stop = new CancellationTokenSource();

        Task<ReadOnlyMemory<byte>?> read = reader.ReadMessageAsync(TestTimeouts.Expected, stop.Token).AsTask();
        await stop.CancelAsync();

        // An OperationCanceledException, not a MessageReadTimeoutException (which is an IOException).
        await Should.ThrowAsync<OperationCanceledException>(() => read.WaitAsync(TestTimeouts.Unexpected));
    }

    [Test]
    public async Task Caller_cancelling_mid_message_is_a_cancellation_not_a_read_timeout()
    {
        var stream = new ScriptedStream(["{\"a\":"u8.ToArray()], stallAtEnd: true);
        var reader = new MessageReader(stream, 1024);
        using var stop = new CancellationTokenSource();

        Task<ReadOnlyMemory<byte>?> read = reader.ReadMessageAsync(TestTimeouts.Unexpected, stop.Token).AsTask();
        stream.BytesServed.ShouldBe(5);
        await stop.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(() => read.WaitAsync(TestTimeouts.Unexpected));
    }

    [Test]
    public void Constructor_refuses_a_null_stream_and_a_maximum_below_two_bytes()
    {
        Should.Throw<ArgumentNullException>(() => new MessageReader(null!, 1024));
        Should.Throw<ArgumentOutOfRangeException>(() => new MessageReader(new MemoryStream(), 1));
    }

    private static async Task<string?> ReadTextAsync(MessageReader reader) =>
        await reader.ReadMessageAsync(NoDeadline).AsTask().WaitAsync(TestTimeouts.Unexpected) is { } message ? Encoding.UTF8.GetString(message.Span) : null;
}
