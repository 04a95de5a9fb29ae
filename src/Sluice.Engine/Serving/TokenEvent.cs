using Sluice.Engine.Sampling;

namespace Sluice.Engine.Serving;

/// <summary>
/// One step of output for one sequence of a request: the token generated (or -1 when the event only
/// finishes the sequence), the text that became final with it (stop strings are held back until they
/// can no longer match), and the finish reason on the sequence's last event.
/// </summary>
public sealed record TokenEvent(
    int SequenceIndex,
    int Token,
    string Text,
    float Logprob,
    TokenLogprob[]? TopLogprobs,
    FinishReason? Finish,
    string? StopReason = null)
{
    public bool IsFinal => Finish.HasValue;

    /// <summary>An embedding request's pooled vector, on its one (final) event.</summary>
    public float[]? Embedding { get; init; }
}
