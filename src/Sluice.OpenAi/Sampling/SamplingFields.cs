using System.Text.Json;

namespace Sluice.OpenAi;

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

    /// <summary>vLLM's return_token_ids: each streamed choice also carries the ids of the tokens it adds (token_ids),
    /// which a gateway needs to continue a stream exactly on another replica.</summary>
    public bool? ReturnTokenIds { get; init; }

    // structured outputs: vLLM's guided decoding and llama.cpp's grammar
    public JsonElement? GuidedJson { get; init; }
    public string? GuidedRegex { get; init; }
    public List<string>? GuidedChoice { get; init; }
    public string? GuidedGrammar { get; init; }
    public string? Grammar { get; init; }
}

/// <summary>stream_options: with include_usage, a stream ends with a chunk that carries the usage.</summary>
public sealed record StreamOptionsBody
{
    public bool? IncludeUsage { get; init; }
}
