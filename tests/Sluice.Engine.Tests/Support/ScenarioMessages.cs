using System.Text.Json;
using Sluice.Engine.Templates;

namespace Sluice.Engine.Tests.Support;

/// <summary>Reads the HF-style message dicts of scenarios.json into <see cref="ChatMessage"/> records.</summary>
internal static class ScenarioMessages
{
    public static ChatMessage ToChatMessage(JsonElement message)
    {
        var content = message.GetProperty("content");
        return new ChatMessage(message.GetProperty("role").GetString()!, content.ValueKind == JsonValueKind.String ? content.GetString() : null)
        {
            ContentParts = content.ValueKind == JsonValueKind.Array
                ? [.. content.EnumerateArray().Select(p => new ChatContentPart(p.GetProperty("type").GetString()!, p.TryGetProperty("text", out var t) ? t.GetString() : null))]
                : null,
            Name = Optional(message, "name"),
            ToolCallId = Optional(message, "tool_call_id"),
            ReasoningContent = Optional(message, "reasoning_content"),
            ToolCalls = message.TryGetProperty("tool_calls", out var calls)
                ? [.. calls.EnumerateArray().Select(c => new ChatToolCall(
                    Optional(c, "id"),
                    c.GetProperty("function").GetProperty("name").GetString()!,
                    c.GetProperty("function").GetProperty("arguments").GetRawText()))]
                : null,
        };
    }

    private static string? Optional(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.GetString() : null;
}
