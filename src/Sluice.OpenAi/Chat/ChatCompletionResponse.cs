using System.Text.Json.Serialization;

namespace Sluice.OpenAi;

/// <summary>The whole answer of /v1/chat/completions (its stream sends <see cref="ChatCompletionChunk"/>s instead).</summary>
public sealed record ChatCompletionResponse(string Id, long Created, string Model, List<ChatChoice> Choices, Usage Usage)
{
    public string Object => "chat.completion";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RequestMetrics? Metrics { get; init; }
}

public sealed record ChatChoice(int Index, ChatResponseMessage Message, ChatLogprobs? Logprobs, string? FinishReason)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StopReason { get; init; }
}

public sealed record ChatResponseMessage(string Role, string? Content)
{
    /// <summary>The functions the model calls (then <see cref="Content"/> is null and finish_reason "tool_calls").</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<ToolCallBody>? ToolCalls { get; init; }

    /// <summary>The model's thinking, split from the content by <c>--reasoning-parser</c> (vLLM's field).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ReasoningContent { get; init; }
}
