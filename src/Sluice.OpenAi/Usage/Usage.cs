using System.Text.Json.Serialization;

namespace Sluice.OpenAi;

/// <summary>Tokens a request used, as OpenAI reports them (cached prompt tokens in the details).</summary>
public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public PromptTokensDetails? PromptTokensDetails { get; init; }
}

public sealed record PromptTokensDetails(int CachedTokens);
