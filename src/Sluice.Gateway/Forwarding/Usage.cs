using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Gateway.Routing;
using Sluice.Gateway.Tenancy.Spend;

namespace Sluice.Gateway.Forwarding;

/// <summary>A request's token counts from what the backend answered: its <c>usage</c> when it sent one, else counted by the gateway.</summary>
internal static class Usage
{
    /// <summary>A non-streaming answer (the bytes held for the client): its usage, or estimates (marked counted) for a 2xx without one.</summary>
    /// <remarks>The request's tree is built only when the answer has no usage (the prompt is then estimated from it).</remarks>
    public static void FromAnswer(RequestUsage usage, RequestBody request, MemoryStream answer, int status)
    {
        if (status is < 200 or >= 300)
        {
            return; // an error answer: nothing generated, nothing billed
        }
        JsonObject? body = null;
        try
        {
            body = JsonNode.Parse(answer.GetBuffer().AsSpan(0, (int)answer.Length)) as JsonObject;
        }
        catch (JsonException)
        {
        }
        if (body?["usage"] is JsonObject u && Long(u["prompt_tokens"]) is { } prompt && Long(u["completion_tokens"]) is { } completion)
        {
            (usage.PromptTokens, usage.CompletionTokens) = (prompt, completion);
            return;
        }
        usage.Counted = true;
        usage.PromptTokens = Math.Max(1, RequestShape.PromptTokens(request.Json));
        long generated = 0;
        if (body?["choices"] is JsonArray choices)
        {
            foreach (var choice in choices)
            {
                string text = (choice?["message"]?["content"] ?? choice?["text"]) is JsonValue v && v.TryGetValue(out string? t) ? t ?? "" : "";
                generated += text.Length == 0 ? 0 : Math.Max(1, Encoding.UTF8.GetByteCount(text) / 4);
            }
        }
        usage.CompletionTokens = generated;
    }

    public static long? Long(JsonNode? node) => node is JsonValue v && v.TryGetValue(out long l) ? l : null;
}
