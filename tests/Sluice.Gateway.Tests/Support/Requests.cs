using System.Text;
using System.Text.Json;

namespace Sluice.Gateway.Tests.Support;

/// <summary>Small OpenAI requests for the demo model, and the SSE events of a streamed answer.</summary>
public static class Requests
{
    public static StringContent Completion(string model, int maxTokens = 2, bool stream = false, string prompt = "hello") =>
        Json($$"""{"model": "{{model}}", "prompt": "{{prompt}}", "max_tokens": {{maxTokens}}, "temperature": 0, "ignore_eos": true, "stream": {{(stream ? "true" : "false")}}}""");

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>The data of each SSE event of a stream, [DONE] included.</summary>
    public static async Task<List<string>> EventsAsync(HttpResponseMessage response)
    {
        string raw = await response.Content.ReadAsStringAsync();
        return [.. raw.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e.Trim()).Where(e => e.Length > 0)
            .Select(e =>
            {
                Assert.StartsWith("data: ", e, StringComparison.Ordinal);
                return e["data: ".Length..];
            })];
    }

    /// <summary>What a completion chunk says (its choices), without the id and time that differ between two runs.</summary>
    public static string Choices(string data) =>
        data == "[DONE]" ? data : JsonDocument.Parse(data).RootElement.GetProperty("choices").GetRawText();

    public static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : "";
}
