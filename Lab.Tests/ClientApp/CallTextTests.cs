using System.Text.Json;
using Lab.Client;
using Lab.ClientApp;
using Lab.Protocol.Messages;

namespace Lab.Tests.ClientApp;

public class CallTextTests
{
    [TestCase("1", "1")]
    [TestCase("-2.5", "-2.5")]
    [TestCase("true", "true")]
    [TestCase("[1,2]", "[1,2]")]
    [TestCase("{\"a\":1}", "{\"a\":1}")]
    [TestCase("\"quoted\"", "\"quoted\"")]
    [TestCase("bob", "\"bob\"")]
    [TestCase("hello world", "\"hello world\"")]
    public void An_argument_is_JSON_when_it_parses_else_a_string(string argument, string asJson)
    {
        object? parsed = CallText.ParseArgument(argument);

        CallText.Value(parsed).ShouldBe(asJson);
    }

    [Test]
    public void A_call_reads_like_the_method_call_it_is()
    {
        string text = CallText.Call("add", [1, 2], new Dictionary<string, object?> { ["c"] = 5 });
        string greeting = CallText.Call("hi", [CallText.ParseArgument("bob")]);

        text.ShouldBe("add(1, 2, c=5)");
        greeting.ShouldBe("hi(\"bob\")");
    }

    [Test]
    public void A_failure_reads_as_its_code_or_type_and_message()
    {
        var remote = new RpcRemoteException("127.0.0.1:8089", "add", RpcErrorCode.InvalidArguments, "missing argument b");
        var connect = new RpcConnectException("127.0.0.1:8089", "Connection refused");

        CallText.Failure(remote).ShouldBe("InvalidArguments: missing argument b");
        CallText.Failure(connect).ShouldBe("RpcConnectException: connecting to 127.0.0.1:8089 failed: Connection refused");
        CallText.ServerOf(connect).ShouldBe("127.0.0.1:8089");
        CallText.ServerOf(new NoServerAvailableException("none")).ShouldBe("(no server)");
    }

    [Test]
    public void A_servers_error_message_is_printed_with_its_control_characters_escaped_and_shortened()
    {
        // A server's 900 KB error message with escape sequences used to go to the terminal as it came.
        string message = "\u001b[2J\u001b[31mPWNED\u009b0m" + new string('x', 900 * 1024);
        var remote = new RpcRemoteException("127.0.0.1:8089", "add", RpcErrorCode.MethodFailed, message);

        string shown = CallText.Failure(remote);

        shown.ShouldStartWith("MethodFailed: \\u001b[2J\\u001b[31mPWNED\\u009b0mxxx");
        shown.ShouldEndWith($"... ({message.Length:N0} characters)");
        shown.Length.ShouldBeLessThan(1100);
        shown.ShouldNotContain("\u001b");
    }

    [Test]
    public void A_result_is_printed_whole_with_its_control_characters_escaped()
    {
        // JSON may carry C1 controls (0x9B is a one-byte ESC [ to some terminals) and bidi overrides raw.
        using JsonDocument result = JsonDocument.Parse("\"a\u009bb\u202ec\"");

        CallText.Value(result.RootElement).ShouldBe("\"a\\u009bb\\u202ec\"");
        CallText.Value(JsonSerializer.SerializeToElement(new string('y', 5000))).Length.ShouldBe(5002, "a result is what the user asked for: never shortened");
    }

    [Test]
    public void Doubles_print_exactly()
    {
        CallText.Value(JsonSerializer.SerializeToElement(Math.PI * 4)).ShouldBe("12.566370614359172");
    }
}
