using Sluice.Engine.Sampling;

namespace Sluice.Engine.Serving;

/// <summary>What a caller asks the engine for: a tokenized prompt, how to sample, and limits.</summary>
public sealed record GenerationRequest
{
    /// <summary>The id reported in logs and traces (the server passes X-Request-Id).</summary>
    public required string Id { get; init; }

    public required IReadOnlyList<int> PromptTokens { get; init; }

    public SamplingParams Sampling { get; init; } = new();

    /// <summary>Lower runs first under the priority policy (vLLM's convention); ignored under FCFS.</summary>
    public int Priority { get; init; }

    /// <summary>Cancels the request (client gone, timeout); its blocks are freed at the next step.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>
    /// The prompt's last <see cref="SamplingParams.ContinuedTokens"/> tokens are output already sent (a continued answer):
    /// the detokenizer and a grammar constraint resume after them, as the earlier part of the request left them.
    /// </summary>
    public bool ResumesOutput { get; init; }

    /// <summary>When set, an embedding: the prompt is prefilled and pooled, nothing is sampled (<see cref="Sampling"/> unused).</summary>
    public EmbeddingSpec? Embedding { get; init; }
}
