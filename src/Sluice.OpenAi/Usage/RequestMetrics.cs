namespace Sluice.OpenAi;

/// <summary>Per-request timings (Sluice's --enable-per-request-metrics), so a client can tell queueing from prefill.</summary>
public sealed record RequestMetrics
{
    public double QueueMs { get; init; }
    public double PrefillMs { get; init; }
    public double DecodeMs { get; init; }
    public double TtftMs { get; init; }
    public double E2eMs { get; init; }
    public int PromptTokens { get; init; }
    public int CachedPromptTokens { get; init; }
    public int CompletionTokens { get; init; }
}
