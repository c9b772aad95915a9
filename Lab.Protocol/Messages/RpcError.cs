namespace Lab.Protocol.Messages;

/// <summary>The <c>error</c> object of a failure reply: <c>{"code": "MethodNotFound", "message": "..."}</c>.</summary>
public sealed record RpcError(RpcErrorCode Code, string Message);
