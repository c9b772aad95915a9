using System.Text;
using System.Text.Json;
using Lab.Protocol.Messages;

namespace Lab.Tests.Protocol;

/// <summary>The reply message of lab requirements §3: <c>{"res": ...}</c>, plus <c>error</c> on failure.</summary>
[Parallelizable(ParallelScope.All)]
public class RpcReplyTests
{
    [Test]
    public void Success_reply_is_just_res()
    {
        Write(writer => RpcReply.WriteSuccess(writer, 8)).ShouldBe("""{"res":8}""");
        Write(writer => RpcReply.WriteSuccess(writer, null)).ShouldBe("""{"res":null}""");
        Write(writer => RpcReply.WriteSuccess(writer, new[] { "a", "b" })).ShouldBe("""{"res":["a","b"]}""");
    }

    [Test]
    public void Error_reply_keeps_the_message_in_res_for_clients_of_the_original_lab()
    {
        Write(writer => RpcReply.WriteError(writer, RpcErrorCode.MethodFailed, "Division by zero error!"))
            .ShouldBe("""{"res":"Division by zero error!","error":{"code":"MethodFailed","message":"Division by zero error!"}}""");
    }

    [Test]
    public void Result_JSON_cannot_carry_is_an_exception_the_server_can_turn_into_MethodFailed()
    {
        Should.Throw<ArgumentException>(() => Write(writer => RpcReply.WriteSuccess(writer, double.PositiveInfinity)));
        var cycle = new List<object>();
        cycle.Add(cycle);
        Should.Throw<JsonException>(() => Write(writer => RpcReply.WriteSuccess(writer, cycle)));
    }

    [Test]
    public void Parse_reads_a_success_reply()
    {
        using JsonDocument document = JsonDocument.Parse("""{"res": 13}""");

        RpcReply reply = RpcReply.Parse(document.RootElement);

        reply.Result.GetInt32().ShouldBe(13);
        reply.Error.ShouldBeNull();
    }

    [Test]
    public void Parse_treats_a_null_error_as_success_and_a_string_result_as_a_result()
    {
        using JsonDocument document = JsonDocument.Parse("""{"res": "Division by zero error!", "error": null}""");

        RpcReply reply = RpcReply.Parse(document.RootElement);

        reply.Error.ShouldBeNull();
        reply.Result.GetString().ShouldBe("Division by zero error!");
    }

    [TestCase("MethodNotFound", RpcErrorCode.MethodNotFound)]
    [TestCase("MessageTooLarge", RpcErrorCode.MessageTooLarge)]
    [TestCase("SomethingNewer", RpcErrorCode.MethodFailed)]
    public void Parse_reads_the_error_code_and_files_unknown_codes_as_MethodFailed(string code, RpcErrorCode expected)
    {
        using JsonDocument document = JsonDocument.Parse($$$"""{"res": "boom", "error": {"code": "{{{code}}}", "message": "boom"}}""");

        RpcReply reply = RpcReply.Parse(document.RootElement);

        reply.Error.ShouldBe(new RpcError(expected, "boom"));
    }

    [TestCase("[1]", "a reply must be a JSON object, not an array")]
    [TestCase("{}", "the reply has no \"res\"")]
    [TestCase("""{"res": 1, "error": "bad"}""", "\"error\" must be an object with string \"code\" and \"message\"")]
    [TestCase("""{"res": 1, "error": {"code": 1, "message": "m"}}""", "\"error\" must be an object with string \"code\" and \"message\"")]
    [TestCase("""{"res": 1, "error": {"code": "MethodFailed"}}""", "\"error\" must be an object with string \"code\" and \"message\"")]
    public void Malformed_reply_is_BadRequest(string json, string expected)
    {
        using JsonDocument document = JsonDocument.Parse(json);

        Should.Throw<BadRequestException>(() => RpcReply.Parse(document.RootElement)).Message.ShouldBe(expected);
    }

    private static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, Lab.Protocol.ProtocolJson.WriterOptions))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
