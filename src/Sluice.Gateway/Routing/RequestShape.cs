using System.Text;
using System.Text.Json.Nodes;
using Sluice.Gateway.Configuration;

namespace Sluice.Gateway.Routing;

/// <summary>
/// A request's shape for the model's pools: its prompt's length in tokens, estimated without a tokenizer (token ids are
/// counted; text is its UTF-8 bytes / 4, the usual rule of thumb for English BPE vocabularies), and its max_tokens.
/// </summary>
public static class RequestShape
{
    /// <summary>The pool of the first rule the request matches; null (the default pool) when none does.</summary>
    public static string? PoolOf(ModelConfig model, JsonObject body)
    {
        if (model.Pools.Count == 0)
        {
            return null;
        }
        int prompt = PromptTokens(body);
        int max = (body["max_tokens"] ?? body["max_completion_tokens"]) is JsonValue v && v.TryGetValue(out int m) ? m : 0;
        return model.Pools.FirstOrDefault(r => (r.PromptTokensOver is { } p && prompt > p) || (r.MaxTokensOver is { } t && max > t))?.Name;
    }

    public static int PromptTokens(JsonObject body)
    {
        if (body["messages"] is JsonArray messages)
        {
            return messages.Sum(message => message?["content"] switch
            {
                JsonValue text when text.TryGetValue(out string? s) => Estimate(s),
                JsonArray parts => parts.Sum(part => part?["text"] is JsonValue t && t.TryGetValue(out string? s) ? Estimate(s) : 0),
                _ => 0,
            });
        }
        return body["prompt"] switch
        {
            JsonValue text when text.TryGetValue(out string? s) => Estimate(s),
            JsonArray { Count: > 0 } list when list[0] is JsonValue first && first.TryGetValue(out int _) => list.Count,
            JsonArray list => list.Max(p => p is JsonValue t && t.TryGetValue(out string? s) ? Estimate(s) : p is JsonArray ids ? ids.Count : 0),
            _ => 0,
        };
    }

    /// <summary>The prompt's first <paramref name="chars"/> characters (a chat request: its messages as role: text lines), for prefix affinity.</summary>
    public static string? Prefix(JsonObject body, int chars)
    {
        var text = new StringBuilder();
        if (body["messages"] is JsonArray messages)
        {
            foreach (var message in messages)
            {
                text.Append(message?["role"]?.ToString()).Append(": ").Append(message?["content"]?.ToJsonString()).Append('\n');
                if (text.Length >= chars)
                {
                    break;
                }
            }
        }
        else if (body["prompt"] is { } prompt)
        {
            text.Append(prompt is JsonValue v && v.TryGetValue(out string? s) ? s : prompt.ToJsonString());
        }
        return text.Length == 0 ? null : text.ToString(0, Math.Min(chars, text.Length));
    }

    private static int Estimate(string text) => Encoding.UTF8.GetByteCount(text) / 4;
}
