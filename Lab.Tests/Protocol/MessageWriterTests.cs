using System.Text;
using System.Text.Json;
using Lab.Protocol.Framing;
using Lab.Protocol.Messages;

namespace Lab.Tests.Protocol;

/// <summary>The sending half of framing: one JSON value plus a newline, sent in one piece.</summary>
[Parallelizable(ParallelScope.All)]
public class MessageWriterTests
{
    [Test]
    public async Task Each_message_is_one_compact_JSON_value_and_a_newline_in_a_single_write()
    {
        var stream = new WriteRecordingStream();
        using var writer = new MessageWriter(stream);

        RpcReply.WriteSuccess(writer.Json, 13);
        await writer.SendAsync();
        RpcReply.WriteError(writer.Json, RpcErrorCode.MethodNotFound, "no method \"nope\"");
        await writer.SendAsync();

        stream.Writes.ShouldBe(["{\"res\":13}\n", "{\"res\":\"no method \\\"nope\\\"\",\"error\":{\"code\":\"MethodNotFound\",\"message\":\"no method \\\"nope\\\"\"}}\n"]);
    }

    [Test]
    public async Task Non_ASCII_text_stays_readable_on_the_wire()
    {
        var stream = new WriteRecordingStream();
        using var writer = new MessageWriter(stream);

        RpcReply.WriteSuccess(writer.Json, "hi 张三, welcome <&>");
        await writer.SendAsync();

        stream.Writes.Single().ShouldBe("{\"res\":\"hi 张三, welcome <&>\"}\n");
    }

    [Test]
    public async Task A_value_that_fails_to_serialize_can_be_discarded_and_replaced_by_an_error_reply()
    {
        var stream = new WriteRecordingStream();
        using var writer = new MessageWriter(stream);

        Should.Throw<ArgumentException>(() => RpcReply.WriteSuccess(writer.Json, new[] { 1.0, double.NaN }));
        writer.Discard();
        RpcReply.WriteError(writer.Json, RpcErrorCode.MethodFailed, "result is not JSON");
        await writer.SendAsync();

        stream.Writes.Single().ShouldStartWith("{\"res\":\"result is not JSON\"");
    }

    [Test]
    public async Task A_cancelled_send_leaves_nothing_behind_for_the_next_message()
    {
        var stream = new WriteRecordingStream();
        using var writer = new MessageWriter(stream);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        RpcReply.WriteSuccess(writer.Json, 1);
        await Should.ThrowAsync<OperationCanceledException>(() => writer.SendAsync(cancelled.Token).AsTask());
        RpcReply.WriteSuccess(writer.Json, 2);
        await writer.SendAsync();

        stream.Writes.ShouldBe(["{\"res\":2}\n"]);
    }

    [Test]
    public async Task Written_messages_read_back_exactly_over_a_real_socket()
    {
        await using SocketPair pair = await SocketPair.ConnectAsync();
        using var writer = new MessageWriter(pair.ClientStream);
        var reader = new MessageReader(pair.ServerStream, 1024 * 1024);

        Task send = Task.Run(async () =>
        {
            for (int i = 0; i < 1000; i++)
            {
                RpcRequest.Write(writer.Json, "add", [i, "{}\"]"], new Dictionary<string, object?> { ["c"] = i });
                await writer.SendAsync();
            }
        });

        for (int i = 0; i < 1000; i++)
        {
            ReadOnlyMemory<byte> message = (await reader.ReadMessageAsync(Timeout.InfiniteTimeSpan).AsTask().WaitAsync(TestTimeouts.Unexpected))!.Value;
            using JsonDocument document = JsonDocument.Parse(message);
            RpcRequest request = RpcRequest.Parse(document.RootElement);
            request.Args[0].GetInt32().ShouldBe(i);
            request.Args[1].GetString().ShouldBe("{}\"]");
            request.Kwargs["c"].GetInt32().ShouldBe(i);
        }

        await send.WaitAsync(TestTimeouts.Unexpected);
    }

    [Test]
    public void Constructor_refuses_a_null_stream()
    {
        Should.Throw<ArgumentNullException>(() => new MessageWriter(null!));
    }

    // Records each WriteAsync call as text, so a test sees how many writes a message took.
    private sealed class WriteRecordingStream : MemoryStream
    {
        public List<string> Writes { get; } = [];

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Writes.Add(Encoding.UTF8.GetString(buffer.Span));
            return ValueTask.CompletedTask;
        }
    }
}
