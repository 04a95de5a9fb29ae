namespace Sluice.Engine.Templates;

/// <summary>
/// One chat message as templates see it: a dict with <c>role</c> and <c>content</c>, plus <c>name</c>,
/// <c>tool_calls</c>, <c>tool_call_id</c> and <c>reasoning_content</c> only when set, so that
/// <c>'tool_calls' in message</c> and <c>message.name is defined</c> behave as with HF's dicts.
/// </summary>
/// <param name="Role">system, user, assistant, tool, ...</param>
/// <param name="Content">Plain text content; <c>None</c> to templates when null and <see cref="ContentParts"/> is null.</param>
public sealed record ChatMessage(string Role, string? Content)
{
    /// <summary>Multi-part content; when set, templates see <c>content</c> as this list of dicts instead of a string.</summary>
    public IReadOnlyList<ChatContentPart>? ContentParts { get; init; }

    public string? Name { get; init; }

    public IReadOnlyList<ChatToolCall>? ToolCalls { get; init; }

    public string? ToolCallId { get; init; }

    /// <summary>The thinking text of an assistant turn, as Qwen 3 and DeepSeek templates read it.</summary>
    public string? ReasoningContent { get; init; }

    /// <summary>Further message keys, converted like <see cref="ChatTemplateContext.Extra"/>.</summary>
    public IReadOnlyDictionary<string, object?>? Extra { get; init; }
}
