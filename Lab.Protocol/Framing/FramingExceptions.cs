namespace Lab.Protocol.Framing;

/// <summary>The connection's byte stream can no longer be read as messages: it is not JSON, too large, cut off,
/// or stalled. The connection must be closed: there is no way to know where, or whether, the next message starts.</summary>
public abstract class FramingException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>The bytes are not JSON (garbage, a broken escape, an unbalanced bracket).</summary>
public sealed class MalformedMessageException(string message, Exception? inner = null) : FramingException(message, inner);

/// <summary>A message grew past the maximum message size before it ended.</summary>
public sealed class MessageTooLargeException(int maxMessageSize)
    : FramingException($"message is larger than the maximum of {maxMessageSize} bytes");

/// <summary>The peer closed the connection after sending part of a message.</summary>
public sealed class IncompleteMessageException(int bytesReceived)
    : FramingException($"connection closed in the middle of a message ({bytesReceived} bytes received)");

/// <summary>No message began within the idle timeout: the peer holds a connection it does not use.</summary>
public sealed class IdleConnectionException(TimeSpan timeout)
    : FramingException($"idle for {timeout.TotalSeconds:0.###} s (idle_timeout) without a request");

/// <summary>A message started but its remaining bytes did not arrive within the allowed time
/// (a peer that sends half a message and stalls).</summary>
public sealed class MessageReadTimeoutException(TimeSpan timeout, int bytesReceived)
    : FramingException($"timed out after {timeout.TotalSeconds:0.###} s waiting for the rest of a message ({bytesReceived} bytes received)");
