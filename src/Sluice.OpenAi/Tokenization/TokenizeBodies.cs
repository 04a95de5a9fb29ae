namespace Sluice.OpenAi;

/// <summary>POST /tokenize (vLLM's shape): a prompt, or chat messages rendered with the chat template.</summary>
public sealed record TokenizeRequestBody
{
    public string? Model { get; init; }
    public string? Prompt { get; init; }
    public List<ChatMessageBody>? Messages { get; init; }
    public bool? AddSpecialTokens { get; init; }
    public bool? AddGenerationPrompt { get; init; }
}

public sealed record TokenizeResponse(int Count, int MaxModelLen, int[] Tokens);

/// <summary>POST /detokenize.</summary>
public sealed record DetokenizeRequestBody
{
    public string? Model { get; init; }
    public List<int>? Tokens { get; init; }
}

public sealed record DetokenizeResponse(string Prompt);
