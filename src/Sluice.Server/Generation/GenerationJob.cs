using Sluice.Engine.Sampling;

namespace Sluice.Server.Generation;

/// <summary>A validated generation request: one engine request per prompt, each with <c>n</c> sequences.</summary>
public sealed record GenerationJob(string RequestId, string Route, string Model, IReadOnlyList<int[]> Prompts, SamplingParams Sampling)
{
    public bool Stream { get; init; }
    public int Priority { get; init; }

    /// <summary>return_token_ids: stream chunks carry the ids of the tokens they add.</summary>
    public bool ReturnTokenIds { get; init; }

    /// <summary>The request's field the prompts came from, named by a context-length error: prompt, messages or text.</summary>
    public string PromptField { get; init; } = "prompt";

    /// <summary>Set when a chat request forces a tool call: the answer is decoded as one and returned as tool_calls.</summary>
    internal Requests.ToolPlan? Tools { get; init; }

    /// <summary>Set for /v1/embeddings: each prompt is pooled into a vector, nothing is generated.</summary>
    public Engine.Serving.EmbeddingSpec? Embedding { get; init; }

    /// <summary>--reasoning-parser on a chat request: each choice's thinking is split into reasoning_content.</summary>
    public Chat.Reasoning.ReasoningFormat? Reasoning { get; init; }

    /// <summary>continued_token_ids: the text of the output already sent, which the chat parsers are primed with.</summary>
    public string? ContinuedText { get; init; }

    /// <summary>continued_choice: the index the (one) choice has in the stream it continues.</summary>
    public int ChoiceBase { get; init; }

    /// <summary>Choices in the response: prompts × n, indexed prompt-major.</summary>
    public int Choices => Prompts.Count * Sampling.N;
}
