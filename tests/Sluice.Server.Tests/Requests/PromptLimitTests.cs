using System.Text.Json;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Requests;

/// <summary>
/// A prompt that cannot fit the context is refused before it is tokenized in full (issue 16: a 7.8 MB
/// prompt took ~230 MB of heap per request, and eight at once left the process at 937 MB).
/// </summary>
public sealed class PromptLimitTests
{
    [Theory]
    [InlineData("/v1/completions", "prompt")]
    [InlineData("/v1/chat/completions", "messages")]
    [InlineData("/tokenize", "prompt")]
    [InlineData("/v1/predict", "text")]
    public async Task HugePrompt_ConcurrentRequests_RefusedAsTooLongWithoutTokenizingItAll(string route, string param)
    {
        await using var t = await TestServer.StartAsync();
        string text = string.Concat(Enumerable.Repeat("all work and no play makes jack a dull boy ", 180_000)); // 7.7 MB
        string json = route switch
        {
            "/v1/chat/completions" => JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = text } }, max_tokens = 4 }),
            "/v1/predict" => JsonSerializer.Serialize(new { text }),
            _ => JsonSerializer.Serialize(new { prompt = text, max_tokens = 4 }),
        };
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => t.PostJsonAsync(route, json)));
        long perRequest = (GC.GetTotalAllocatedBytes(precise: true) - before) / 8;
        foreach (var (status, body, _) in results)
        {
            Assert.Equal(400, status);
            var error = body.GetProperty("error");
            Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
            Assert.Equal(param, error.GetProperty("param").GetString());
            Assert.Contains("maximum context length", error.GetProperty("message").GetString());
        }
        // the body itself (bytes, the string, the JSON) is about 40 MB; tokenizing all of it cost ~230 MB more
        Assert.True(perRequest < 80_000_000, $"{perRequest:N0} bytes allocated per request");
        await t.WaitForAllBlocksFreeAsync();
    }
}
