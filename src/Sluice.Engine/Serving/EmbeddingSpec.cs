namespace Sluice.Engine.Serving;

/// <summary>How a prompt's final hidden states (after the final norm) become one vector.</summary>
public enum EmbeddingPooling
{
    /// <summary>The last prompt token's hidden state: what a decoder-only model has seen the whole input by (vLLM's default for them).</summary>
    Last,

    /// <summary>The mean of every prompt token's hidden state.</summary>
    Mean,
}

/// <summary>
/// Makes a request an embedding: prefill only, nothing sampled, the pooled hidden state returned in its one event
/// (<see cref="TokenEvent.Embedding"/>); its KV blocks are freed at once and never enter the prefix cache.
/// </summary>
/// <param name="Normalize">Divide the vector by its L2 norm (vLLM's default for embeddings).</param>
public sealed record EmbeddingSpec(EmbeddingPooling Pooling, bool Normalize = true);
