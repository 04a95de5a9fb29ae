namespace Sluice.Engine.Serving;

/// <summary>Why a sequence stopped.</summary>
public enum FinishReason
{
    /// <summary>An end-of-generation token, a stop token id or a stop string.</summary>
    Stop,

    /// <summary>max_tokens reached, or the model's context length.</summary>
    Length,

    /// <summary>Cancelled by the caller (disconnect, timeout, shutdown).</summary>
    Cancelled,

    /// <summary>The engine failed while running it.</summary>
    Error,
}
