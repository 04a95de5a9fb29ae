using System.Text.Json.Serialization;

namespace Sluice.OpenAi;

// Response bodies exactly as OpenAI sends them: fields OpenAI writes as null (logprobs, finish_reason) are
// written as null; Sluice's additions are left out when empty.

/// <summary>
/// The answer of /v1/completions, and also each chunk of its stream (a <c>text_completion</c> object with one
/// choice per chunk, and with include_usage a last chunk with no choices and the usage).
/// </summary>
public sealed record CompletionResponse(string Id, long Created, string Model, List<CompletionChoice> Choices)
{
    public string Object => "text_completion";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Usage? Usage { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RequestMetrics? Metrics { get; init; }
}

public sealed record CompletionChoice(int Index, string Text, CompletionLogprobs? Logprobs, string? FinishReason)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StopReason { get; init; }

    /// <summary>With return_token_ids, in a stream: the ids of the tokens this chunk adds.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<int>? TokenIds { get; init; }
}

/// <summary>The legacy completions log-probabilities: parallel lists, one entry per token.</summary>
public sealed record CompletionLogprobs(List<string> Tokens, List<float> TokenLogprobs, List<Dictionary<string, float>?> TopLogprobs, List<int> TextOffset)
{
    public static CompletionLogprobs Empty() => new([], [], [], []);
}
