namespace Sluice.Engine.Serving;

/// <summary>Why the engine refused a request up front (<see cref="RequestRejectedException.Reason"/>).</summary>
public enum EngineRejection
{
    /// <summary>Prompt plus max_tokens exceeds --max-model-len, or could never fit the KV cache.</summary>
    TooLong,

    /// <summary>Bad sampling parameters or token ids.</summary>
    InvalidRequest,

    /// <summary>The engine is shutting down.</summary>
    ShuttingDown,
}
