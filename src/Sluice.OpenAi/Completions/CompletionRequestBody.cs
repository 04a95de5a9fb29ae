using System.Text.Json;

namespace Sluice.OpenAi;

/// <summary>POST /v1/completions.</summary>
public sealed record CompletionRequestBody : SamplingFields
{
    public JsonElement? Prompt { get; init; }
    public bool? Echo { get; init; }
    public int? BestOf { get; init; }
    public string? Suffix { get; init; }
    public bool? AddSpecialTokens { get; init; }
}
