using System.Text.Json;

namespace Sluice.OpenAi;

/// <summary>POST /v1/responses, the Responses API, served statelessly (nothing is stored between responses).</summary>
public sealed record ResponsesRequestBody
{
    public string? Model { get; init; }

    /// <summary>A string (one user message) or a list of items: messages, function_call and function_call_output.</summary>
    public JsonElement? Input { get; init; }

    public string? Instructions { get; init; }
    public JsonElement? Tools { get; init; }
    public JsonElement? ToolChoice { get; init; }
    public bool? ParallelToolCalls { get; init; }

    /// <summary><c>{"format": {"type": "text" | "json_object" | "json_schema", ...}}</c>.</summary>
    public JsonElement? Text { get; init; }

    public int? MaxOutputTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public bool? Stream { get; init; }
    public long? Seed { get; init; }

    // accepted and not honoured, as in chat (listed in the README)
    public JsonElement? Metadata { get; init; }
    public bool? Store { get; init; }
    public string? User { get; init; }
    public string? ServiceTier { get; init; }

    // read only to be refused by name: they need state, or features this server does not have
    public string? PreviousResponseId { get; init; }
    public JsonElement? Conversation { get; init; }
    public bool? Background { get; init; }
    public JsonElement? Include { get; init; }
    public JsonElement? Reasoning { get; init; }
    public JsonElement? Prompt { get; init; }
    public string? Truncation { get; init; }
    public int? MaxToolCalls { get; init; }
    public int? TopLogprobs { get; init; }
}
