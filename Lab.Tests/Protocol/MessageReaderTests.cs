using System.Text;
using Lab.Protocol.Framing;

namespace Lab.Tests.Protocol;

public class MessageReaderTests
{
    private static readonly TimeSpan NoDeadline = Timeout.InfiniteTimeSpan;

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

    private static async Task<string?> ReadTextAsync(MessageReader reader) =>
        await reader.ReadMessageAsync(NoDeadline) is { } message ? Encoding.UTF8.GetString(message.Span) : null;
}
