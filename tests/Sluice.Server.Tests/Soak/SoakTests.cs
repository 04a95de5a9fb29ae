using System.Net;
using System.Text.Json;
using Sluice.Hosting.Errors;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Soak;

/// <summary>
/// Hundreds of mixed concurrent requests against one server: whole and streamed, completions and chat,
/// some cancelled midway, some malformed. Every valid one must return exactly what it returns alone
/// (greedy decoding is batch-invariant), the KV pool must come back full and memory near where it began.
/// </summary>
public sealed class SoakTests
{
    private const int Requests = 400;
    private const int Concurrency = 48;

    private sealed record Outcome(int Kind, bool Ok, string Detail);

    [Fact]
    public async Task MixedLoad_ValidRequestsCompleteCorrectly_KvPoolReturnsFull_MemoryReturnsToBaseline()
    {
        var engine = TestServer.DefaultEngine with { MaxNumSeqs = 16, MaxNumBatchedTokens = 128 };
        await using var t = await TestServer.StartAsync(new ServerOptions { MaxNumQueuedReqs = 1024 }, engine);
        string[] prompts = [.. Enumerable.Range(0, 8).Select(i => $"prompt number {i}: {new string((char)('a' + i), i + 3)}")];

        // what each prompt gives alone, completions and chat
        var expectedText = new Dictionary<string, string>();
        var expectedChat = new Dictionary<string, string>();
        foreach (var p in prompts)
        {
            var (_, c, _) = await t.PostJsonAsync("/v1/completions", Completion(p, stream: false));
            expectedText[p] = c.GetProperty("choices")[0].GetProperty("text").GetString()!;
            var (_, ch, _) = await t.PostJsonAsync("/v1/chat/completions", Chat(p, stream: false));
            expectedChat[p] = ch.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        }
        await t.WaitForAllBlocksFreeAsync();
        long baseline = ManagedMemory();
        var invalid = new System.Collections.Concurrent.ConcurrentBag<string>();
        t.Server.Telemetry.RequestCompleted += r =>
        {
            if (r.Rejection == AdmissionRejection.InvalidRequest)
            {
                invalid.Add(r.Error ?? "");
            }
        };

        var rng = new Random(11);
        var plan = Enumerable.Range(0, Requests).Select(_ => (Kind: rng.Next(5), Prompt: prompts[rng.Next(prompts.Length)], Delay: rng.Next(1, 6))).ToList();
        using var gate = new SemaphoreSlim(Concurrency);
        var outcomes = await Task.WhenAll(plan.Select(async item =>
        {
            await gate.WaitAsync();
            try
            {
                return await RunOne(t, item.Kind, item.Prompt, item.Delay, expectedText, expectedChat);
            }
            finally
            {
                gate.Release();
            }
        }));

        var failures = outcomes.Where(o => !o.Ok).Take(5).Select(o => $"kind {o.Kind}: {o.Detail}").ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(outcomes.Count(o => o.Kind == 3) > 40, "the plan should cancel dozens of requests");

        await t.WaitForAllBlocksFreeAsync(TimeSpan.FromSeconds(30));
        var stats = t.Engine.Stats;
        Assert.Equal(stats.KvBlocksTotal, stats.KvBlocksFree);
        Assert.Equal(0, t.Server.Serving.Admission.InFlight);
        Assert.Equal(0, t.Server.Serving.Admission.PrefillTokens);
        Assert.True(outcomes.Count(o => o.Kind == 4) == invalid.Count, string.Join("\n", invalid.Distinct()));

        long after = ManagedMemory();
        Assert.True(after - baseline < 32 << 20, $"managed memory grew from {baseline >> 20} MiB to {after >> 20} MiB");
    }

    private static async Task<Outcome> RunOne(TestServer t, int kind, string prompt, int delayMs, Dictionary<string, string> text, Dictionary<string, string> chat)
    {
        switch (kind)
        {
            case 0: // whole completion
                {
                    var (status, body, _) = await t.PostJsonAsync("/v1/completions", Completion(prompt, stream: false));
                    string got = status == 200 ? body.GetProperty("choices")[0].GetProperty("text").GetString()! : $"status {status}";
                    return new(kind, got == text[prompt], got);
                }
            case 1: // streamed completion
                {
                    var s = await Sse.ReadAllAsync(await t.PostAsync("/v1/completions", Completion(prompt, stream: true)));
                    string got = string.Concat(s.Chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
                    return new(kind, s.Done && got == text[prompt], got);
                }
            case 2: // streamed chat
                {
                    var s = await Sse.ReadAllAsync(await t.PostAsync("/v1/chat/completions", Chat(prompt, stream: true)));
                    string got = string.Concat(s.Chunks.Select(c => c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var d) ? d.GetString() : ""));
                    return new(kind, s.Done && got == chat[prompt], got);
                }
            case 3: // cancelled midway
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(delayMs));
                    try
                    {
                        var response = await t.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
                        {
                            Content = new StringContent(Chat(prompt, stream: true, maxTokens: 400)),
                        }, HttpCompletionOption.ResponseHeadersRead, cts.Token);
                        await response.Content.CopyToAsync(Stream.Null, cts.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                    return new(kind, true, "cancelled");
                }
            default: // bad input
                {
                    string[] bad = ["{\"prompt\": ", """{"prompt": "x", "max_tokens": "many"}""", """{"messages": [{"role": "nobody"}]}""", """{"prompt": [1, 2, -5]}"""];
                    string body = bad[delayMs % bad.Length];
                    var response = await t.PostAsync(body.Contains("messages", StringComparison.Ordinal) ? "/v1/chat/completions" : "/v1/completions", body);
                    return new(kind, response.StatusCode == HttpStatusCode.BadRequest, $"status {(int)response.StatusCode}");
                }
        }
    }

    private static string Completion(string prompt, bool stream) =>
        $$"""{"prompt": {{JsonSerializer.Serialize(prompt)}}, "max_tokens": 24, "temperature": 0, "ignore_eos": true, "stream": {{(stream ? "true" : "false")}}}""";

    private static string Chat(string prompt, bool stream, int maxTokens = 24) =>
        $$"""{"messages": [{"role": "user", "content": {{JsonSerializer.Serialize(prompt)}}}], "max_tokens": {{maxTokens}}, "temperature": 0, "ignore_eos": true, "stream": {{(stream ? "true" : "false")}}}""";

    private static long ManagedMemory()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
