using System.Text;
using Lab.Protocol.Framing;
using Lab.Protocol.Messages;
using Lab.Server;

namespace Lab.Tests.Server;

public class CallResultTests
{
    [Test]
    public async Task Success_is_written_as_res()
    {
        string reply = await WriteAsync(CallResult.Success(13.0));

        reply.ShouldBe("{\"res\":13}\n");
    }

    [Test]
    public async Task Failure_keeps_its_message_in_res_and_in_error()
    {
        string reply = await WriteAsync(CallResult.Failure(RpcErrorCode.MethodFailed, "Division by zero error!"));

        reply.ShouldBe("{\"res\":\"Division by zero error!\",\"error\":{\"code\":\"MethodFailed\",\"message\":\"Division by zero error!\"}}\n");
    }

    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    public async Task Number_JSON_cannot_carry_becomes_a_MethodFailed_reply(double value)
    {
        (string reply, CallResult written) = await WriteWithResultAsync(CallResult.Success(value));

        written.ErrorCode.ShouldBe(RpcErrorCode.MethodFailed);
        reply.ShouldStartWith("{\"res\":\"the result cannot be sent as JSON");
        reply.ShouldContain("\"code\":\"MethodFailed\"");
    }

    [Test]
    public async Task Cyclic_result_becomes_a_MethodFailed_reply_not_half_a_message()
    {
        var node = new Node();
        node.Next = node;

        (string reply, CallResult written) = await WriteWithResultAsync(CallResult.Success(node));

        written.ErrorCode.ShouldBe(RpcErrorCode.MethodFailed);
        reply.ShouldStartWith("{\"res\":\"the result cannot be sent as JSON");
        reply.Count(c => c == '\n').ShouldBe(1);
    }

    private static async Task<string> WriteAsync(CallResult result) => (await WriteWithResultAsync(result)).Reply;

    private static async Task<(string Reply, CallResult Written)> WriteWithResultAsync(CallResult result)
    {
        using var stream = new MemoryStream();
        using var writer = new MessageWriter(stream);
        CallResult written = result.WriteTo(writer);
        await writer.SendAsync();
        return (Encoding.UTF8.GetString(stream.ToArray()), written);
    }

    private sealed class Node
    {
        public Node? Next { get; set; }
    }
}
