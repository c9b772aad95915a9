using Lab.Scenarios.Scenarios;

namespace Lab.Tests.Scenarios;

public class DemoOracleTests
{
    [TestCase("add", "1, 2", "13")]
    [TestCase("add", "1, 2, c=5", "8")]
    [TestCase("add", "1, 2, 5", "8")]
    [TestCase("subtract", "10, 4", "6")]
    [TestCase("multiply", "6, 7", "42")]
    [TestCase("divide", "10, 4", "2.5")]
    [TestCase("area_of_circle", "2", "12.566370614359172")]
    [TestCase("square", "9", "81")]
    [TestCase("to_uppercase", "\"hello rpc\"", "\"HELLO RPC\"")]
    [TestCase("reverse_string", "\"hello\"", "\"olleh\"")]
    [TestCase("hi", "\"bob\"", "\"hi bob, welcome\"")]
    [TestCase("hello", "\"a, b\"", "\"Hello, a, b!\"")]
    [TestCase("hi", "bob", "hi bob, welcome")]
    public void Correct_results_are_accepted(string method, string arguments, string result)
    {
        DemoOracle.Judge(method, arguments, result).ShouldBeNull();
    }

    [TestCase("add", "1, 2", "3", "expected 13")]
    [TestCase("divide", "10, 4", "2", "expected 2.5")]
    [TestCase("hello", "\"world\"", "\"hello, world\"", "expected \"Hello, world!\"")]
    public void Wrong_results_are_reported_with_the_expected_value(string method, string arguments, string result, string verdict)
    {
        DemoOracle.Judge(method, arguments, result).ShouldBe(verdict);
    }

    [Test]
    public void Methods_outside_the_ten_are_not_judged()
    {
        DemoOracle.Judge("sleep", "2", "2").ShouldBeNull();
        DemoOracle.TenDemoMethods.Count.ShouldBe(10);
    }
}
