using System.Text.Json;

namespace Lab.Tests.Server.Support;

/// <summary>Reads the parts of a reply a test checks.</summary>
internal static class ReplyAssertions
{
    /// <summary>The error code of a failure reply; fails the test on a success reply.</summary>
    public static string ErrorCode(this JsonElement reply)
    {
        reply.TryGetProperty("error", out JsonElement error).ShouldBeTrue($"expected an error reply, got {reply}");
        return error.GetProperty("code").GetString()!;
    }

    /// <summary>The <c>res</c> of a success reply; fails the test on an error reply.</summary>
    public static JsonElement Result(this JsonElement reply)
    {
        reply.TryGetProperty("error", out _).ShouldBeFalse($"expected a success reply, got {reply}");
        return reply.GetProperty("res");
    }
}
