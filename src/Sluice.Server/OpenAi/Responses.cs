using System.Text.Json.Serialization;

namespace Sluice.Server.OpenAi;

// Response bodies and stream chunks exactly as OpenAI sends them: fields OpenAI writes as null
// (logprobs, finish_reason) are written as null; Sluice's additions are left out when empty.

public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public PromptTokensDetails? PromptTokensDetails { get; init; }
}

public sealed record PromptTokensDetails(int CachedTokens);

/// <summary>Per-request timings (with --enable-per-request-metrics), so a client can tell queueing from prefill.</summary>
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

public sealed record CompletionLogprobs(List<string> Tokens, List<float> TokenLogprobs, List<Dictionary<string, float>?> TopLogprobs, List<int> TextOffset);

public sealed record CompletionChoice(int Index, string Text, CompletionLogprobs? Logprobs, string? FinishReason)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StopReason { get; init; }
}

public sealed record CompletionResponse(string Id, long Created, string Model, List<CompletionChoice> Choices)
{
    public string Object => "text_completion";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Usage? Usage { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RequestMetrics? Metrics { get; init; }
}

public sealed record ChatTopLogprob(string Token, float Logprob, List<int> Bytes);

public sealed record ChatTokenLogprob(string Token, float Logprob, List<int> Bytes, List<ChatTopLogprob> TopLogprobs);

public sealed record ChatLogprobs(List<ChatTokenLogprob> Content);

public sealed record ChatResponseMessage(string Role, string? Content);

public sealed record ChatChoice(int Index, ChatResponseMessage Message, ChatLogprobs? Logprobs, string? FinishReason)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StopReason { get; init; }
}

public sealed record ChatCompletionResponse(string Id, long Created, string Model, List<ChatChoice> Choices, Usage Usage)
{
    public string Object => "chat.completion";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RequestMetrics? Metrics { get; init; }
}

public sealed record ChatDelta
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Role { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Content { get; init; }
}

public sealed record ChatChunkChoice(int Index, ChatDelta Delta, ChatLogprobs? Logprobs, string? FinishReason)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StopReason { get; init; }
}

public sealed record ChatCompletionChunk(string Id, long Created, string Model, List<ChatChunkChoice> Choices)
{
    public string Object => "chat.completion.chunk";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Usage? Usage { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RequestMetrics? Metrics { get; init; }
}

public sealed record ModelCard(string Id, long Created, string OwnedBy, string Root, int MaxModelLen)
{
    public string Object => "model";
}

public sealed record ModelList(List<ModelCard> Data)
{
    public string Object => "list";
}

public sealed record TokenizeResponse(int Count, int MaxModelLen, int[] Tokens);

public sealed record DetokenizeResponse(string Prompt);

public sealed record PredictResponse(string Id, string Model, string Text, string? FinishReason, Usage Usage);
