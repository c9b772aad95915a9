using System.Text.Json;
using Lab.Server.Demo;
using Lab.Registry;
using Lab.Protocol;
using Lab.Protocol.Messages;
using Lab.Server;

namespace Lab.Tests.Server;

public class DemoMethodsTests
{
    private ServerStub _stub = null!;

    [SetUp]
    public void CreateStub()
    {
        _stub = new ServerStub(TimeSpan.FromSeconds(0.5));
        new DemoMethods().RegisterAll(_stub);
    }

    [TestCase("add", "[1, 2]", "13")]
    [TestCase("add", "[1, 2, 3]", "6")]
    [TestCase("subtract", "[10, 4]", "6")]
    [TestCase("multiply", "[6, 7]", "42")]
    [TestCase("divide", "[1, 4]", "0.25")]
    [TestCase("area_of_circle", "[1]", "3.141592653589793")]
    [TestCase("square", "[12]", "144")]
    [TestCase("to_uppercase", "[\"hello\"]", "\"HELLO\"")]
    [TestCase("reverse_string", "[\"abc\"]", "\"cba\"")]
    [TestCase("reverse_string", "[\"a😀b\"]", "\"b😀a\"")]
    [TestCase("hi", "[\"Ada\"]", "\"hi Ada, welcome\"")]
    [TestCase("hello", "[\"世界\"]", "\"Hello, 世界!\"")]
    [TestCase("hi", "[0]", "\"hi 0, welcome\"")]
    [TestCase("hello", "[true]", "\"Hello, True!\"")]
    [TestCase("hello", "[false]", "\"Hello, False!\"")]
    [TestCase("hello", "[null]", "\"Hello, None!\"")]
    [TestCase("hello", "[1.0]", "\"Hello, 1.0!\"")]
    [TestCase("hello", "[[1, 2]]", "\"Hello, [1, 2]!\"")]
    [TestCase("hello", "[{\"a\": 1}]", "\"Hello, {'a': 1}!\"")]
    [TestCase("hi", "[{\"it's\": [\"x\", null, 2.5e-7, 1e16, 123456789012345678901234567890]}]", "\"hi {\\\"it's\\\": ['x', None, 2.5e-07, 1e+16, 123456789012345678901234567890]}, welcome\"")]
    [TestCase("echo", "[{\"nested\": [1, \"two\", null]}]", "{\"nested\":[1,\"two\",null]}")]
    public async Task Demo_method_returns_the_lab_result(string method, string args, string expectedJson)
    {
        string result = await CallJsonAsync($$"""{"method_name": "{{method}}", "method_args": {{args}}}""");

        // Compared as JSON values: the writer may escape characters (an emoji becomes \uD83D\uDE00).
        using JsonDocument actual = JsonDocument.Parse(result);
        using JsonDocument expected = JsonDocument.Parse(expectedJson);
        JsonElement.DeepEquals(actual.RootElement, expected.RootElement).ShouldBeTrue($"{method}{args} returned {result}, expected {expectedJson}");
    }

    [Test]
    public async Task Divide_by_zero_is_MethodFailed_with_the_lab_message()
    {
        CallResult result = await CallAsync("""{"method_name": "divide", "method_args": [1, 0]}""");

        result.ErrorCode.ShouldBe(RpcErrorCode.MethodFailed);
        result.ErrorMessage.ShouldBe("Division by zero error!");
    }

    [Test]
    public async Task To_uppercase_of_a_number_is_an_error_reply_that_says_why()
    {
        CallResult result = await CallAsync("""{"method_name": "to_uppercase", "method_args": [5]}""");

        result.ErrorCode.ShouldBe(RpcErrorCode.InvalidArguments);
        result.ErrorMessage.ShouldBe("to_uppercase() argument 'string' must be a string, not the number 5");
    }

    [TestCase(0.1, "0.1")]
    [TestCase(100.0, "100.0")]
    [TestCase(-2.5, "-2.5")]
    [TestCase(1e15, "1000000000000000.0")]
    [TestCase(1e16, "1e+16")]
    [TestCase(1.5e-5, "1.5e-05")]
    [TestCase(0.0001, "0.0001")]
    [TestCase(0.0, "0.0")]
    [TestCase(-0.0, "-0.0")]
    [TestCase(1.5e15, "1500000000000000.0")]
    [TestCase(123456.789, "123456.789")]
    [TestCase(1.0 / 3, "0.3333333333333333")]
    public void Floats_are_spelled_as_Python_repr_spells_them(double number, string python)
    {
        PythonText.FloatRepr(number).ShouldBe(python);
    }

    [Test]
    public async Task All_ten_lab_methods_are_listed_with_required_and_optional_parameters()
    {
        string listing = await CallJsonAsync("""{"method_name": "all_your_methods"}""");

        using JsonDocument document = JsonDocument.Parse(listing);
        Dictionary<string, JsonElement> byName = document.RootElement.EnumerateArray()
            .ToDictionary(entry => entry.GetProperty("method_name").GetString()!, entry => entry.Clone());
        string[] lab = ["add", "subtract", "multiply", "divide", "area_of_circle", "square", "to_uppercase", "reverse_string", "hi", "hello"];
        foreach (string name in lab)
        {
            byName.ShouldContainKey(name);
        }

        byName["add"].GetProperty("method_args").GetRawText().ShouldBe("""["a","b"]""");
        byName["add"].GetProperty("method_kwargs").GetRawText().ShouldBe("""{"c":10}""");
        byName["area_of_circle"].GetProperty("method_args").GetRawText().ShouldBe("""["radius"]""");
        byName["to_uppercase"].GetProperty("method_args").GetRawText().ShouldBe("""["string"]""");
        byName["sleep"].GetProperty("method_args").GetRawText().ShouldBe("""["seconds"]""");
        byName["rendezvous"].GetProperty("method_args").GetRawText().ShouldBe("""["group","parties"]""");
    }

    [Test]
    public async Task Sleep_returns_after_its_time()
    {
        string result = await CallJsonAsync("""{"method_name": "sleep", "method_args": [0.01]}""");

        result.ShouldBe("0.01");
    }

    [Test]
    public async Task Sleep_past_the_method_timeout_is_cancelled()
    {
        CallResult result = await CallAsync("""{"method_name": "sleep", "method_args": [60]}""");

        result.ErrorCode.ShouldBe(RpcErrorCode.MethodTimeout);
    }

    [Test]
    public async Task Rendezvous_alone_waits_until_the_method_timeout()
    {
        CallResult result = await CallAsync("""{"method_name": "rendezvous", "method_args": ["lonely", 2]}""");

        result.ErrorCode.ShouldBe(RpcErrorCode.MethodTimeout);
    }

    private async Task<CallResult> CallAsync(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return await _stub.DispatchAsync(RpcRequest.Parse(document.RootElement));
    }

    private async Task<string> CallJsonAsync(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        CallResult result = await _stub.DispatchAsync(RpcRequest.Parse(document.RootElement));
        result.IsSuccess.ShouldBeTrue(result.ErrorMessage);
        // Serialized while the request document is alive: echo's result points into it.
        return JsonSerializer.Serialize(result.Value, ProtocolJson.Options);
    }
}
