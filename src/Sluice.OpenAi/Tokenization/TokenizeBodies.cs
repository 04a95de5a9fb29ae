using System.Text.Json;

namespace Sluice.OpenAi;

/// <summary>
/// POST /tokenize (vLLM's shape): a prompt, or chat messages rendered with the chat template as a chat request renders
/// them (add_generation_prompt, continue_final_message, tools, chat_template_kwargs).
/// </summary>
public sealed record TokenizeRequestBody
{
    public string? Model { get; init; }
    public string? Prompt { get; init; }
    public List<ChatMessageBody>? Messages { get; init; }
    public bool? AddSpecialTokens { get; init; }
    public bool? AddGenerationPrompt { get; init; }
    public bool? ContinueFinalMessage { get; init; }
    public JsonElement? Tools { get; init; }
    public Dictionary<string, JsonElement>? ChatTemplateKwargs { get; init; }
}

/// <summary>
/// The tokens of a prompt with vLLM's fields (count, max_model_len, tokens, token_strs: each token's vocabulary text) and
/// <c>prompt</c>, the text that was tokenized: for messages, the chat template's output.
/// </summary>
public sealed record TokenizeResponse(int Count, int MaxModelLen, int[] Tokens, string[] TokenStrs, string Prompt);

/// <summary>POST /detokenize.</summary>
public sealed record DetokenizeRequestBody
{
    public string? Model { get; init; }
    public List<int>? Tokens { get; init; }
}

public sealed record DetokenizeResponse(string Prompt);
