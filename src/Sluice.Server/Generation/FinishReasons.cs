using Sluice.Engine.Serving;

namespace Sluice.Server.Generation;

/// <summary>The finish_reason strings of the OpenAI API (and vLLM's "abort").</summary>
internal static class FinishReasons
{
    public static string ToApi(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        FinishReason.Cancelled => "abort",
        _ => "error",
    };

    /// <summary>The finish_reason of a stream chunk: null until the choice finishes.</summary>
    public static string? ToApi(FinishReason? reason) => reason is { } r ? ToApi(r) : null;
}
