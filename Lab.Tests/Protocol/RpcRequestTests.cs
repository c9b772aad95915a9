using System.Text;
using System.Text.Json;
using Lab.Protocol.Messages;

namespace Lab.Tests.Protocol;

/// <summary>The request message of lab requirements §3: <c>{"method_name", "method_args", "method_kwargs"}</c>.</summary>
[Parallelizable(ParallelScope.All)]
public class RpcRequestTests
{
    [Test]
    public void Parse_reads_name_positional_and_named_arguments()
    {
        using JsonDocument document = JsonDocument.Parse("""{"method_name": "add", "method_args": [1, 2], "method_kwargs": {"c": 5}}""");

        RpcRequest request = RpcRequest.Parse(document.RootElement);

        request.MethodName.ShouldBe("add");
        request.Args.Select(a => a.GetInt32()).ShouldBe([1, 2]);
        request.Kwargs["c"].GetInt32().ShouldBe(5);
    }

    [TestCase("""{"method_name": "hi"}""")]
    [TestCase("""{"method_name": "hi", "method_args": null, "method_kwargs": null}""")]
    [TestCase("""{"method_name": "hi", "method_args": [], "method_kwargs": {}}""")]
    public void Absent_null_or_empty_arguments_mean_no_arguments(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);

        RpcRequest request = RpcRequest.Parse(document.RootElement);

        request.Args.ShouldBeEmpty();
        request.Kwargs.ShouldBeEmpty();
    }

    [TestCase("[1, 2]", "a request must be a JSON object, not an array")]
    [TestCase("\"add\"", "a request must be a JSON object, not a string")]
    [TestCase("{}", "the request has no \"method_name\"")]
    [TestCase("""{"method_name": 5}""", "\"method_name\" must be a string, not a number")]
    [TestCase("""{"method_name": ""}""", "\"method_name\" must not be empty")]
    [TestCase("""{"method_name": null}""", "\"method_name\" must be a string, not null")]
    [TestCase("""{"method_name": "add", "method_args": {"a": 1}}""", "\"method_args\" must be an array, not an object")]
    [TestCase("""{"method_name": "add", "method_args": 1}""", "\"method_args\" must be an array, not a number")]
    [TestCase("""{"method_name": "add", "method_kwargs": [1]}""", "\"method_kwargs\" must be an object, not an array")]
    [TestCase("""{"method_name": "add", "method_kwargs": true}""", "\"method_kwargs\" must be an object, not a boolean")]
    public void Malformed_request_is_BadRequest_naming_the_field(string json, string expected)
    {
        using JsonDocument document = JsonDocument.Parse(json);

        Should.Throw<BadRequestException>(() => RpcRequest.Parse(document.RootElement)).Message.ShouldBe(expected);
    }

    [Test]
    public void Write_emits_the_lab_field_names_in_order()
    {
        string json = Write("add", [1, 2], new Dictionary<string, object?> { ["c"] = 5 });

        json.ShouldBe("""{"method_name":"add","method_args":[1,2],"method_kwargs":{"c":5}}""");
    }

    [Test]
    public void Write_without_arguments_still_sends_empty_args_and_kwargs()
    {
        Write("hi", null, null).ShouldBe("""{"method_name":"hi","method_args":[],"method_kwargs":{}}""");
    }

    [Test]
    public void Written_request_parses_back_to_the_same_call()
    {
        string json = Write("echo", ["x", null, 2.5, new[] { 1, 2 }], new Dictionary<string, object?> { ["flag"] = true });
        using JsonDocument document = JsonDocument.Parse(json);

        RpcRequest request = RpcRequest.Parse(document.RootElement);

        request.MethodName.ShouldBe("echo");
        request.Args.Select(a => a.GetRawText()).ShouldBe(["\"x\"", "null", "2.5", "[1,2]"]);
        request.Kwargs["flag"].GetBoolean().ShouldBeTrue();
    }

    private static string Write(string name, IReadOnlyList<object?>? args, IReadOnlyDictionary<string, object?>? kwargs)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            RpcRequest.Write(writer, name, args, kwargs);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
