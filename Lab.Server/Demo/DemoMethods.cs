using System.Text.Json;

namespace Lab.Server.Demo;

/// <summary>The lab's ten demo functions (lab requirements §5), all registered by default, plus four the scenarios
/// and tests need: <c>sleep</c> (a slow call that honours cancellation), <c>block</c> (one that blocks its
/// thread and ignores the deadline), <c>echo</c> (large messages) and
/// <c>rendezvous</c> (the proof of parallel calls).</summary>
/// <remarks>Numbers are <see cref="double"/>, as in the lab's Python, so <c>add(1, 2)</c> is 13 (c defaults
/// to 10) and <c>divide(1, 4)</c> is 0.25. Parameter names are the keyword names callers use.
/// <c>hi</c> and <c>hello</c> take any JSON value and format it as Python's <c>str()</c> does
/// (<see cref="PythonText"/>), because lab clients call <c>hi(0)</c>; the methods that need a type
/// keep it, so <c>to_uppercase(5)</c> is an InvalidArguments reply that says why.
/// <example><code>
/// var stub = new ServerStub(TimeSpan.FromSeconds(30));
/// new DemoMethods().RegisterAll(stub);
/// // {"method_name": "add", "method_args": [1, 2]}  ->  {"res": 13}
/// </code></example></remarks>
public sealed class DemoMethods
{
    private readonly Rendezvous _rendezvous = new();

    /// <summary>Registers every demo method under its snake_case wire name.</summary>
    public void RegisterAll(ServerStub stub)
    {
        stub.Register("add", Add);
        stub.Register("subtract", Subtract);
        stub.Register("multiply", Multiply);
        stub.Register("divide", Divide);
        stub.Register("area_of_circle", AreaOfCircle);
        stub.Register("square", Square);
        stub.Register("to_uppercase", ToUppercase);
        stub.Register("reverse_string", ReverseString);
        stub.Register("hi", Hi);
        stub.Register("hello", Hello);
        stub.Register("sleep", SleepAsync);
        stub.Register("block", Block);
        stub.Register("echo", Echo);
        stub.Register("rendezvous", RendezvousAsync);
    }

    public static double Add(double a, double b, double c = 10) => a + b + c;

    public static double Subtract(double a, double b) => a - b;

    public static double Multiply(double a, double b) => a * b;

    /// <exception cref="DivideByZeroException">b is 0 (the caller gets MethodFailed with the lab's message).</exception>
    public static double Divide(double a, double b) =>
        b == 0 ? throw new DivideByZeroException("Division by zero error!") : a / b;

    public static double AreaOfCircle(double radius) => Math.PI * radius * radius;

    public static double Square(double number) => number * number;

    public static string ToUppercase(string @string) => @string.ToUpperInvariant();

    /// <summary>Reverses by text element, so a character outside the BMP or an accent stays whole.</summary>
    public static string ReverseString(string @string)
    {
        var text = new System.Globalization.StringInfo(@string);
        return string.Concat(Enumerable.Range(0, text.LengthInTextElements).Reverse().Select(i => text.SubstringByTextElements(i, 1)));
    }

    // Any JSON value, formatted as Python's f-string would: hi(0) is "hi 0, welcome", as in the lab.
    public static string Hi(JsonElement user) => $"hi {PythonText.Str(user)}, welcome";

    public static string Hello(JsonElement name) => $"Hello, {PythonText.Str(name)}!";

    /// <summary>Waits <paramref name="seconds"/> and returns them; stops early when the method timeout fires.</summary>
    public static async Task<double> SleepAsync(double seconds, CancellationToken cancellationToken)
    {
        if (!double.IsFinite(seconds) || seconds < 0 || seconds > TimeSpan.FromDays(1).TotalSeconds)
            throw new ArgumentOutOfRangeException(nameof(seconds), "seconds must be between 0 and 86400");

        await Task.Delay(TimeSpan.FromSeconds(seconds), cancellationToken).ConfigureAwait(false);
        return seconds;
    }

    /// <summary>Blocks its thread for <paramref name="seconds"/>, as a student's synchronous method does: no
    /// token, no await. The server still answers MethodTimeout at the deadline (see ServerStub.DispatchAsync).</summary>
    public static double Block(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0 || seconds > 3600)
            throw new ArgumentOutOfRangeException(nameof(seconds), "seconds must be between 0 and 3600");
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        return seconds;
    }

    /// <summary>Returns its argument unchanged, whatever its JSON type (for large-message tests).</summary>
    public static JsonElement Echo(JsonElement payload) => payload;

    /// <summary>Returns only when <paramref name="parties"/> callers of <paramref name="group"/> are inside at once.</summary>
    public Task<int> RendezvousAsync(string group, int parties, CancellationToken cancellationToken) =>
        _rendezvous.MeetAsync(group, parties, cancellationToken);
}
