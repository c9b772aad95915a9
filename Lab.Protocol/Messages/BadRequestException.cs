namespace Lab.Protocol.Messages;

/// <summary>A message that is well-formed JSON but not a valid request or reply. The connection can go on:
/// the framing layer already knows where the next message starts.</summary>
public sealed class BadRequestException(string message) : Exception(message);
