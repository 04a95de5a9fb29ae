namespace Sluice.Engine.Templates;

/// <summary>
/// The variables a chat template renders with, named as HF's <c>apply_chat_template</c> names them:
/// <c>messages</c>, <c>add_generation_prompt</c>, <c>bos_token</c>, <c>eos_token</c>, <c>tools</c>,
/// <c>documents</c>, and every key of <see cref="Extra"/> (e.g. <c>enable_thinking</c>).
/// </summary>
public sealed record ChatTemplateContext
{
    public required IReadOnlyList<ChatMessage> Messages { get; init; }

    public bool AddGenerationPrompt { get; init; }

    /// <summary>The model's BOS text; the variable is undefined when null.</summary>
    public string? BosToken { get; init; }

    /// <summary>The model's EOS text; the variable is undefined when null.</summary>
    public string? EosToken { get; init; }

    /// <summary>A JSON array of tool definitions; <c>tools</c> is <c>None</c> when null, as with HF.</summary>
    public string? ToolsJson { get; init; }

    /// <summary>A JSON array of documents for RAG templates; <c>documents</c> is <c>None</c> when null.</summary>
    public string? DocumentsJson { get; init; }

    /// <summary>
    /// Further variables. Values may be null, strings, booleans, integers, floating-point numbers,
    /// dictionaries with string keys, sequences, and <see cref="System.Text.Json.JsonElement"/> or
    /// <see cref="System.Text.Json.Nodes.JsonNode"/> values; they override the variables above.
    /// </summary>
    public IReadOnlyDictionary<string, object?> Extra { get; init; } = new Dictionary<string, object?>();

    /// <summary>The clock <c>strftime_now</c> reads (local time, as Python's <c>datetime.now()</c>).</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    public TemplateLimits Limits { get; init; } = TemplateLimits.Default;
}
