using System.Net;
using System.Text.Json;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Forwarding;

/// <summary>
/// A real `sluice serve` replica SIGKILLed while 16 greedy (or 8 seeded, temperature 20) streams run through it: each
/// stream is continued on the other replica at the token level and reaches the client as one unbroken stream, with the
/// tokens of an unbroken run and its usage (seeded: the continuation's sampler resumes at the cut, continued_tokens). Two replicas of its own (one is killed), beside the shared ones' collection so the CPU is not shared.
/// </summary>
[Collection(ReplicaCollection.Name)]
public sealed class ContinuationTests
{
    private const int MaxTokens = 400;

    /// <summary>Even streams are completions, odd ones chat.</summary>
    private static string Path(int i) => i % 2 == 0 ? "/v1/completions" : "/v1/chat/completions";

    private static string Body(int i, string model, bool seeded) => (i % 2 == 0
        ? $$"""{"model": "{{model}}", "prompt": "Tell story number {{i}}", """
        : $$"""{"model": "{{model}}", "messages": [{"role": "user", "content": "Tell story number {{i}}"}], """)
        + (seeded ? $"\"temperature\": 20, \"seed\": {1000 + i}, " : "\"temperature\": 0, ")
        + $$"""
            "max_tokens": {{MaxTokens}}, "ignore_eos": true, "stream": true, "stream_options": {"include_usage": true}, "return_token_ids": true}
            """;

    private sealed record Run(string Backend, List<JsonElement> Chunks, string Last)
    {
        public List<int> Ids => [.. Chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .SelectMany(c => c.GetProperty("choices")[0].TryGetProperty("token_ids", out var ids) ? ids.EnumerateArray().Select(x => x.GetInt32()) : [])];

        public string Text => string.Concat(Chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).Select(c => c.GetProperty("choices")[0] is var choice
            && choice.TryGetProperty("text", out var text) ? text.GetString()
            : choice.GetProperty("delta").TryGetProperty("content", out var content) ? content.GetString() : ""));

        public JsonElement Usage => Chunks[^1].GetProperty("usage");
    }

    /// <summary>Reads a stream event by event; <paramref name="started"/> is set after its third chunk (a chat stream's role chunk and two tokens).</summary>
    private static async Task<Run> ReadAsync(HttpClient client, string path, string body, TaskCompletionSource? started)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Requests.Json(body) };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var chunks = new List<JsonElement>();
        string last = "";
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }
            last = line["data: ".Length..];
            if (last == "[DONE]")
            {
                break;
            }
            chunks.Add(JsonDocument.Parse(last).RootElement.Clone());
            if (chunks.Count == 3)
            {
                started?.TrySetResult();
            }
        }
        return new Run(Requests.Header(response, AttemptTransformer.BackendHeader), chunks, last);
    }

    [Theory]
    [InlineData(false, 16)]
    [InlineData(true, 8)]
    public async Task ReplicaSigkilledUnderStreams_EveryStreamCompletesUnbroken_GreedyAndSeededTokensEqualAnUnbrokenRun(bool seeded, int streams)
    {
        var (doomed, doomedUrl) = await ServeReplicas.StartOneAsync();
        var (survivor, survivorUrl) = await ServeReplicas.StartOneAsync();
        try
        {
            // the doomed replica weighted so every stream starts on it
            string yaml = $"models:\n  - name: demo\n    deployments:\n"
                + $"      - {{url: '{doomedUrl}', model: {ServeReplicas.BackendModel}, weight: 1000}}\n"
                + $"      - {{url: '{survivorUrl}', model: {ServeReplicas.BackendModel}, weight: 1}}\n"
                + "routing: {strategy: weighted-round-robin}\ntimeouts: {stream_idle: 60s}\n";
            await using var g = await TestGateway.StartAsync(yaml);
            var started = Enumerable.Range(0, streams).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToList();
            var runs = Enumerable.Range(0, streams).Select(i => ReadAsync(g.Client, Path(i), Body(i, "demo", seeded), started[i])).ToList();
            await Task.WhenAll(started.Select(s => s.Task)).WaitAsync(TimeSpan.FromMinutes(3));
            doomed.Kill(); // SIGKILL
            var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(5));

            using var direct = new HttpClient { BaseAddress = survivorUrl, Timeout = TimeSpan.FromMinutes(5) };
            var unbroken = await Task.WhenAll(Enumerable.Range(0, streams).Select(i => ReadAsync(direct, Path(i), Body(i, ServeReplicas.BackendModel, seeded), null)));
            for (int i = 0; i < streams; i++)
            {
                var run = results[i];
                Assert.Equal(doomedUrl.Authority, run.Backend);
                Assert.Equal("[DONE]", run.Last);
                Assert.Single(run.Chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
                Assert.Single(run.Chunks.Select(c => c.GetProperty("object").GetString()).Distinct());
                Assert.Equal(unbroken[i].Ids, run.Ids);
                Assert.Equal(unbroken[i].Text, run.Text);
                Assert.Equal(MaxTokens, run.Usage.GetProperty("completion_tokens").GetInt32());
                Assert.Equal(unbroken[i].Usage.GetProperty("prompt_tokens").GetInt32(), run.Usage.GetProperty("prompt_tokens").GetInt32());
            }
            Assert.Equal(streams, g.Gateway.Metrics.Continuations.Value("demo", "tokens", "ok"));
        }
        finally
        {
            foreach (var process in new[] { doomed, survivor })
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }
                process.WaitForExit(10_000);
                process.Dispose();
            }
        }
    }
}
