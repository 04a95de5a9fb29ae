using System.Text.Json;
using Sluice.Engine.Templates;
using Sluice.Hosting.Errors;
using Sluice.OpenAi;

namespace Sluice.Server.Chat;

/// <summary>OpenAI chat messages to the template's <see cref="ChatMessage"/>s, refusing what this server cannot honour.</summary>
internal static class ChatMessageReader
{
    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool", "function"];

    public static List<ChatMessage> Read(List<ChatMessageBody>? messages)
    {
        if (messages is null || messages.Count == 0)
        {
            throw ApiException.BadRequest("'messages' must be a non-empty array.", "messages");
        }
        var result = new List<ChatMessage>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            result.Add(Read(messages[i], i));
        }
        return result;
    }

    private static ChatMessage Read(ChatMessageBody? m, int index)
    {
        string where = $"messages[{index}]";
        if (m is null)
        {
            throw ApiException.BadRequest($"'{where}' must be an object.", where);
        }
        if (m.Role is null || !Roles.Contains(m.Role))
        {
            throw ApiException.BadRequest($"'{where}.role' must be one of system, developer, user, assistant, tool; got {(m.Role is null ? "nothing" : $"'{m.Role}'")}.", where + ".role");
        }
        // OpenAI's newer "developer" role is the system prompt of the templates models ship
        string role = m.Role == "developer" ? "system" : m.Role;
        string? text = null;
        switch (m.Content?.ValueKind)
        {
            case null or JsonValueKind.Null or JsonValueKind.Undefined:
                if (m.ToolCalls is null or { Count: 0 } && role != "assistant")
                {
                    throw ApiException.BadRequest($"'{where}.content' is required.", where + ".content");
                }
                break;
            case JsonValueKind.String:
                text = m.Content.Value.GetString();
                break;
            case JsonValueKind.Array:
                // text parts joined, as vLLM does: most templates expect content to be a string
                text = string.Join("\n", ReadParts(m.Content.Value, where).Select(p => p.Text));
                break;
            default:
                throw ApiException.BadRequest($"'{where}.content' must be a string or an array of content parts.", where + ".content");
        }
        return new ChatMessage(role, text)
        {
            Name = m.Name,
            ToolCallId = m.ToolCallId,
            ReasoningContent = m.ReasoningContent,
            ToolCalls = m.ToolCalls?.Select((c, j) => new ChatToolCall(c.Id, c.Function?.Name
                ?? throw ApiException.BadRequest($"'{where}.tool_calls[{j}].function.name' is required.", where), c.Function.Arguments ?? "{}")).ToList(),
        };
    }

    private static List<ChatContentPart> ReadParts(JsonElement content, string where)
    {
        var parts = new List<ChatContentPart>();
        int i = 0;
        foreach (var part in content.EnumerateArray())
        {
            string at = $"{where}.content[{i++}]";
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                throw ApiException.BadRequest($"'{at}' must be an object with a 'type'.", at);
            }
            if (type.GetString() != "text")
            {
                throw ApiException.BadRequest($"'{at}' has type '{type.GetString()}': this server's models take text only.", at);
            }
            if (!part.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
            {
                throw ApiException.BadRequest($"'{at}.text' must be a string.", at + ".text");
            }
            parts.Add(ChatContentPart.FromText(t.GetString()!));
        }
        return parts;
    }
}
