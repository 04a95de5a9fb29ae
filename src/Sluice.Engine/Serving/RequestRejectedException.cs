namespace Sluice.Engine.Serving;

/// <summary>Why the engine refused a request up front.</summary>
public enum RejectionReason
{
    /// <summary>Prompt plus max_tokens exceeds --max-model-len, or could never fit the KV cache.</summary>
    TooLong,

    /// <summary>Bad sampling parameters or token ids.</summary>
    InvalidRequest,

    /// <summary>The engine is shutting down.</summary>
    ShuttingDown,
}

/// <summary>A request the engine will not run, with the limit it broke named in the message.</summary>
public sealed class RequestRejectedException(RejectionReason reason, string message) : Exception(message)
{
    public RejectionReason Reason { get; } = reason;
}
