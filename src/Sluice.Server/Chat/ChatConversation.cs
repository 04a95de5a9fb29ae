using Sluice.Engine.Templates;

namespace Sluice.Server.Chat;

/// <summary>What a chat request asks the template to render.</summary>
public sealed record ChatConversation(IReadOnlyList<ChatMessage> Messages)
{
    public bool AddGenerationPrompt { get; init; } = true;

    /// <summary>vLLM's continue_final_message: the prompt ends inside the last (assistant) message.</summary>
    public bool ContinueFinalMessage { get; init; }

    public string? ToolsJson { get; init; }

    /// <summary>chat_template_kwargs, e.g. enable_thinking.</summary>
    public IReadOnlyDictionary<string, object?> TemplateKwargs { get; init; } = new Dictionary<string, object?>();
}
