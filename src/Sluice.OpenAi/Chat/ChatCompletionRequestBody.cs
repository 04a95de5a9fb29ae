using System.Text.Json;

namespace Sluice.OpenAi;

/// <summary>POST /v1/chat/completions.</summary>
public sealed record ChatCompletionRequestBody : SamplingFields
{
    public List<ChatMessageBody>? Messages { get; init; }
    public int? MaxCompletionTokens { get; init; }
    public int? TopLogprobs { get; init; }
    public JsonElement? Tools { get; init; }
    public JsonElement? ToolChoice { get; init; }
    public bool? ParallelToolCalls { get; init; }

    /// <summary>
    /// Sluice's continuation of a cut stream (sent by `sluice gateway`): the ids of the answer's tokens the client already
    /// has. The prompt is the rendered messages followed by them; the sampler (seeded draws, penalties), a forced call's
    /// grammar, the detokenizer, the stop strings' matcher and the tool-call parser resume after them, and the stream
    /// sends only what follows.
    /// </summary>
    public List<int>? ContinuedTokenIds { get; init; }

    /// <summary>With <see cref="ContinuedTokenIds"/>: the choice index the continued answer had (its chunks and tool-call ids say it).</summary>
    public int? ContinuedChoice { get; init; }

    // read only to be refused by name (see JobReader): without them here a client's request would be silently ignored
    public JsonElement? Functions { get; init; }
    public JsonElement? FunctionCall { get; init; }
    public JsonElement? Modalities { get; init; }
    public JsonElement? Audio { get; init; }
    public JsonElement? Prediction { get; init; }
    public JsonElement? WebSearchOptions { get; init; }

    // accepted and not honoured (listed in the README): they change nothing a local server could do
    public JsonElement? Metadata { get; init; }
    public bool? Store { get; init; }
    public string? ServiceTier { get; init; }
    public string? ReasoningEffort { get; init; }
    public bool? AddGenerationPrompt { get; init; }
    public bool? ContinueFinalMessage { get; init; }
    public Dictionary<string, JsonElement>? ChatTemplateKwargs { get; init; }
}

public sealed record ChatMessageBody
{
    public string? Role { get; init; }
    public JsonElement? Content { get; init; }
    public string? Name { get; init; }
    public List<ToolCallBody>? ToolCalls { get; init; }
    public string? ToolCallId { get; init; }
    public string? ReasoningContent { get; init; }
}

public sealed record ToolCallBody
{
    public string? Id { get; init; }
    public string? Type { get; init; }
    public FunctionCallBody? Function { get; init; }
}

public sealed record FunctionCallBody
{
    public string? Name { get; init; }
    public string? Arguments { get; init; }
}
