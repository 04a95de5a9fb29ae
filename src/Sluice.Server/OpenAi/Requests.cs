using System.Text.Json;

namespace Sluice.Server.OpenAi;

// Request bodies as OpenAI (and vLLM's extensions) name their fields. Unknown fields are ignored;
// fields whose JSON type varies (prompt, stop, content, logprobs) stay JsonElement and are read by hand.

/// <summary>Fields shared by /v1/completions and /v1/chat/completions.</summary>
public abstract record SamplingFields
{
    public string? Model { get; init; }
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? N { get; init; }
    public bool? Stream { get; init; }
    public StreamOptionsBody? StreamOptions { get; init; }
    public JsonElement? Stop { get; init; }
    public long? Seed { get; init; }
    public float? PresencePenalty { get; init; }
    public float? FrequencyPenalty { get; init; }
    public Dictionary<string, float>? LogitBias { get; init; }
    public JsonElement? Logprobs { get; init; }
    public JsonElement? ResponseFormat { get; init; }
    public string? User { get; init; }

    // vLLM's sampling extensions
    public int? TopK { get; init; }
    public float? MinP { get; init; }
    public float? RepetitionPenalty { get; init; }
    public bool? IgnoreEos { get; init; }
    public int? MinTokens { get; init; }
    public List<int>? StopTokenIds { get; init; }
    public bool? IncludeStopStrInOutput { get; init; }
    public int? Priority { get; init; }
}

public sealed record StreamOptionsBody
{
    public bool? IncludeUsage { get; init; }
}

/// <summary>POST /v1/completions.</summary>
public sealed record CompletionRequestBody : SamplingFields
{
    public JsonElement? Prompt { get; init; }
    public bool? Echo { get; init; }
    public int? BestOf { get; init; }
    public string? Suffix { get; init; }
    public bool? AddSpecialTokens { get; init; }
}

/// <summary>POST /v1/chat/completions.</summary>
public sealed record ChatCompletionRequestBody : SamplingFields
{
    public List<ChatMessageBody>? Messages { get; init; }
    public int? MaxCompletionTokens { get; init; }
    public int? TopLogprobs { get; init; }
    public JsonElement? Tools { get; init; }
    public JsonElement? ToolChoice { get; init; }
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

/// <summary>POST /tokenize: a prompt, or chat messages rendered with the chat template.</summary>
public sealed record TokenizeRequestBody
{
    public string? Model { get; init; }
    public string? Prompt { get; init; }
    public List<ChatMessageBody>? Messages { get; init; }
    public bool? AddSpecialTokens { get; init; }
    public bool? AddGenerationPrompt { get; init; }
}

/// <summary>POST /detokenize.</summary>
public sealed record DetokenizeRequestBody
{
    public string? Model { get; init; }
    public List<int>? Tokens { get; init; }
}

/// <summary>POST /v1/predict: the older <c>{"text": ...}</c> shape.</summary>
public sealed record PredictRequestBody
{
    public string? Model { get; init; }
    public string? Text { get; init; }
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public long? Seed { get; init; }
}
