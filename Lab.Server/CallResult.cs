using System.Text.Json;
using Lab.Protocol.Framing;
using Lab.Protocol.Messages;

namespace Lab.Server;

/// <summary>
/// What one call produced: a result value, or an error code with its message. The connection turns it
/// into exactly one reply with <see cref="WriteTo"/>.
/// </summary>
/// <example>
/// <code>
/// CallResult result = await stub.DispatchAsync(request, token);
/// CallResult written = result.WriteTo(writer);     // MethodFailed if the value was NaN or a cycle
/// await writer.SendAsync(token);
/// </code>
/// </example>
public sealed record CallResult(object? Value, RpcErrorCode? ErrorCode, string? ErrorMessage)
{
    public bool IsSuccess => ErrorCode is null;

    public static CallResult Success(object? value) => new(value, null, null);

    public static CallResult Failure(RpcErrorCode code, string message) => new(null, code, message);

    /// <summary>
    /// Writes the reply into <paramref name="writer"/> (not yet sent) and returns what was really
    /// written: a result JSON cannot carry (NaN, Infinity, a cycle, an unsupported type) is replaced by
    /// a MethodFailed reply, so the caller gets an answer instead of a dropped connection.
    /// </summary>
    public CallResult WriteTo(MessageWriter writer)
    {
        if (!IsSuccess)
        {
            RpcReply.WriteError(writer.Json, ErrorCode!.Value, ErrorMessage!);
            return this;
        }

        try
        {
            RpcReply.WriteSuccess(writer.Json, Value);
            return this;
        }
        catch (Exception ex) when (ex is ArgumentException or JsonException or NotSupportedException or InvalidOperationException)
        {
            // Half a reply may already be in the buffer: throw it away and send the error instead.
            writer.Discard();
            // A non-finite number is the usual case; the serializer's own message about it is a paragraph.
            string why = Value is double or float ? $"{System.Convert.ToString(Value, System.Globalization.CultureInfo.InvariantCulture)} is not a finite number" : ex.Message;
            CallResult failure = Failure(RpcErrorCode.MethodFailed, $"the result cannot be sent as JSON: {why}");
            RpcReply.WriteError(writer.Json, failure.ErrorCode!.Value, failure.ErrorMessage!);
            return failure;
        }
    }
}
