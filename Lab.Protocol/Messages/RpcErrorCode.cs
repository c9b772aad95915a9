namespace Lab.Protocol.Messages;

/// <summary>The error codes an error reply can carry (lab requirements §3). The wire spelling is the enum name.</summary>
public enum RpcErrorCode
{
    /// <summary>No method is registered under the requested name.</summary>
    MethodNotFound,

    /// <summary>The call does not bind to the method's parameters: missing, extra or wrong JSON type.</summary>
    InvalidArguments,

    /// <summary>The method itself threw, or returned a value JSON cannot carry (NaN, a cycle).</summary>
    MethodFailed,

    /// <summary>The method ran past the server's method timeout; its cancellation token was fired.</summary>
    MethodTimeout,

    /// <summary>The message is not JSON, not an object, lacks <c>method_name</c>, or has wrong types.</summary>
    BadRequest,

    /// <summary>The message is over the maximum message size; the server closes the connection after this reply.</summary>
    MessageTooLarge,

    /// <summary>Every method slot (<c>max_concurrent_calls</c>) is taken; the method never ran, so another try is safe.</summary>
    ServerBusy,
}
