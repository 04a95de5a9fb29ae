using System.Text.Json.Serialization;

namespace Sluice.OpenAi;

/// <summary>
/// One event of a /v1/chat/completions stream: a <c>chat.completion.chunk</c> whose choices carry a delta (the
/// role first, then content); with include_usage a last chunk with no choices and the usage.
/// </summary>
public sealed record ChatCompletionChunk(string Id, long Created, string Model, List<ChatChunkChoice> Choices)
{
    public string Object => "chat.completion.chunk";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Usage? Usage { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RequestMetrics? Metrics { get; init; }
}

public sealed record ChatChunkChoice(int Index, ChatDelta Delta, ChatLogprobs? Logprobs, string? FinishReason)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StopReason { get; init; }

    /// <summary>With return_token_ids: the ids of the tokens this chunk adds.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<int>? TokenIds { get; init; }
}

public sealed record ChatDelta
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Role { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Content { get; init; }

    /// <summary>The model's thinking, split from the content by <c>--reasoning-parser</c> (vLLM's field).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ReasoningContent { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<ToolCallDelta>? ToolCalls { get; init; }
}

/// <summary>
/// A piece of a streamed tool call, as OpenAI streams them: the first with the call's index, id, type and the
/// function's name (arguments empty), the next ones with the same index and a piece of the arguments each.
/// </summary>
public sealed record ToolCallDelta(int Index)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Id { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Type { get; init; }

    public FunctionCallDelta Function { get; init; } = new();
}

public sealed record FunctionCallDelta
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Arguments { get; init; }
}
