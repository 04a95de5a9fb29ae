using System.Text.Json;

namespace Sluice.Gateway.Forwarding;

/// <summary>Whether a backend's 400 says the prompt is longer than its context (OpenAI's, vLLM's and Sluice's wording).</summary>
internal static class ContextLength
{
    public static bool Exceeded(ReadOnlySpan<byte> body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body.ToArray());
            if (!doc.RootElement.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object)
            {
                return false;
            }
            string code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "";
            string message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "";
            return code == "context_length_exceeded"
                || message.Contains("maximum context length", StringComparison.OrdinalIgnoreCase)
                || message.Contains("context window", StringComparison.OrdinalIgnoreCase);
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
