using System.Text.Json;

namespace Sluice.Server.Tests.Support;

/// <summary>Reads a server-sent event stream the way a strict client does: only <c>data: </c> lines, each event ended by a blank line.</summary>
public static class Sse
{
    public sealed record Stream(List<JsonElement> Chunks, bool Done, string Raw);

    public static async Task<Stream> ReadAllAsync(HttpResponseMessage response)
    {
        string raw = await response.Content.ReadAsStringAsync();
        return Parse(raw);
    }

    public static Stream Parse(string raw)
    {
        var chunks = new List<JsonElement>();
        bool done = false;
        foreach (var evt in raw.TrimStart('\n').Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.StartsWith("data: ", evt);
            Assert.False(done, "nothing may follow [DONE]");
            string data = evt["data: ".Length..];
            if (data == "[DONE]")
            {
                done = true;
                continue;
            }
            using var doc = JsonDocument.Parse(data);
            chunks.Add(doc.RootElement.Clone());
        }
        return new Stream(chunks, done, raw);
    }
}
