using System.Net;
using System.Text.Json;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Failover;

/// <summary>
/// Continuations that used to end with stream_interrupted, against <see cref="FaultyBackend"/>: token-id prompts, more
/// than 128 choices, and a mixed fleet where a strict sluice serve older than <c>continued_token_ids</c> refuses it. The
/// cutting deployment is tried first (weight 1000); the fake answers the words w1 to w6 after those its prompt holds (a
/// token-id prompt: id k is the word wk), so a stream reads "w1 w2 w3 w4 w5 w6 " whoever served its parts.
/// </summary>
public sealed class ContinuationFallbackTests : IAsyncLifetime
{
    private const string Whole = "w1 w2 w3 w4 w5 w6 ";

    private FaultyBackend _cutting = null!;
    private FaultyBackend _other = null!;

    public async Task InitializeAsync()
    {
        _cutting = await FaultyBackend.StartAsync();
        _other = await FaultyBackend.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _cutting.DisposeAsync();
        await _other.DisposeAsync();
    }

    private string Config(string cuttingKind, string other, string otherKind) =>
        $"models:\n  - name: m\n    deployments:\n"
        + $"      - {{url: '{_cutting.Url}', model: cut, kind: {cuttingKind}, weight: 1000}}\n"
        + $"      - {{url: '{_other.Url}', model: {other}, kind: {otherKind}, weight: 1}}\n"
        + "routing: {strategy: weighted-round-robin}\n";

    private static async Task<List<string>> StreamAsync(TestGateway g, string requestId, string json, bool chat = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, chat ? "/v1/chat/completions" : "/v1/completions") { Content = Requests.Json(json) };
        request.Headers.Add("X-Request-Id", requestId);
        using var response = await g.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await Requests.EventsAsync(response);
    }

    private List<JsonElement> BodiesOn(FaultyBackend backend, string requestId) =>
        [.. backend.Attempts.Where(a => a.RequestId == requestId).Select(a => JsonDocument.Parse(a.Body).RootElement)];

    [Fact]
    public async Task TokenIdPromptArrayCutOnSluice_EachChoiceContinuesByItsIdsOnAnOpenAiBackend()
    {
        // cut on a sluice serve (every word came with its id); the other replica is kind openai: ids are the only way on
        await using var g = await TestGateway.StartAsync(Config("sluice", "ok", "openai"));
        var events = await StreamAsync(g, "r1", """{"model": "m", "prompt": [[1000], [1001, 1002]], "n": 2, "seed": 7, "stream": true, "stream_options": {"include_usage": true}}""");
        Assert.Equal("[DONE]", events[^1]);
        var choices = StreamFailoverTests.ByChoice(events);
        Assert.Equal([0, 1, 2, 3], choices.Keys);
        Assert.All(choices.Values, c => Assert.Equal((Whole, "stop"), c));
        // each choice: its prompt's ids followed by the ids of the words it had, n 1, its own seed
        var bodies = BodiesOn(_other, "r1").Select(b => (string.Join(",", b.GetProperty("prompt").EnumerateArray().Select(i => i.GetInt32())), b.GetProperty("seed").GetInt64()))
            .Order().ToList();
        Assert.Equal([("1000,1,2,3", 7L), ("1000,1,2,3", 8L), ("1001,1002,1,2,3", 7L), ("1001,1002,1,2,3", 8L)], bodies);
        Assert.Equal(4, g.Gateway.Metrics.Continuations.Value("m", "text", "ok"));
    }

    [Fact]
    public async Task TokenIdPromptCutOnSluice_ContinuesOnSluiceWithContinuedTokenIds()
    {
        await using var g = await TestGateway.StartAsync(Config("sluice", "ok", "sluice"));
        var events = await StreamAsync(g, "r1", """{"model": "m", "prompt": [1000, 1001], "stream": true, "stream_options": {"include_usage": true}}""");
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal(Whole, FailoverTests.StreamText(events));
        var body = Assert.Single(BodiesOn(_other, "r1"));
        // no /tokenize: the client's ids are the prompt; the ids so far follow as continued_token_ids
        Assert.Equal([1000, 1001], body.GetProperty("prompt").EnumerateArray().Select(i => i.GetInt32()));
        Assert.Equal([1, 2, 3], body.GetProperty("continued_token_ids").EnumerateArray().Select(i => i.GetInt32()));
        Assert.Equal(1, g.Gateway.Metrics.Continuations.Value("m", "tokens", "ok"));
    }

    [Fact]
    public async Task TokenIdPromptCutWithoutIds_NothingCanAppendText_EndsWithStreamInterrupted()
    {
        // an openai backend sends no token ids: text cannot follow a prompt of ids
        await using var g = await TestGateway.StartAsync(Config("openai", "ok", "openai"));
        var events = await StreamAsync(g, "r1", """{"model": "m", "prompt": [1000], "stream": true}""");
        Assert.DoesNotContain("[DONE]", events);
        var error = JsonDocument.Parse(events[^1]).RootElement.GetProperty("error");
        Assert.Equal("stream_interrupted", error.GetProperty("code").GetString());
        Assert.Contains("token ids", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(BodiesOn(_other, "r1"));
    }

    [Fact]
    public async Task TwoHundredChoicesCut_EveryChoiceContinues_AtMostTheBoundAtOnce()
    {
        // each continuation takes 200 ms before its first word: 200 at once would all overlap
        await using var g = await TestGateway.StartAsync(Config("openai", "delay-200", "openai"));
        var events = await StreamAsync(g, "r1", """{"model": "m", "prompt": "x", "n": 200, "stream": true, "stream_options": {"include_usage": true}}""");
        Assert.Equal("[DONE]", events[^1]);
        var choices = StreamFailoverTests.ByChoice(events);
        Assert.Equal(Enumerable.Range(0, 200), choices.Keys);
        Assert.All(choices.Values, c => Assert.Equal((Whole, "stop"), c));
        Assert.Equal(200, BodiesOn(_other, "r1").Count);
        Assert.Equal(200, g.Gateway.Metrics.Continuations.Value("m", "text", "ok"));
        Assert.InRange(_other.MaxInFlight, 2, StreamState.ContinuationConcurrency);
        Assert.Equal(1200, JsonDocument.Parse(events[^2]).RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task MixedFleet_OldSluiceRefusesContinuedTokenIds_StreamGoesOnByTextOrPrefill_AndItIsNotAskedAgain()
    {
        await using var g = await TestGateway.StartAsync(Config("sluice", "old-sluice", "sluice"));
        var completion = await StreamAsync(g, "r1", """{"model": "m", "prompt": "x", "stream": true}""");
        Assert.Equal("[DONE]", completion[^1]);
        Assert.Equal(Whole, FailoverTests.StreamText(completion));
        var bodies = BodiesOn(_other, "r1");
        Assert.Equal(2, bodies.Count); // refused, then the same replica by text
        Assert.True(bodies[0].TryGetProperty("continued_token_ids", out _));
        Assert.Equal("xw1 w2 w3 ", bodies[1].GetProperty("prompt").GetString());
        Assert.False(bodies[1].TryGetProperty("continued_token_ids", out _));

        // remembered: the next cut stream goes straight to the way this replica takes (a chat: the assistant prefill)
        var chat = await StreamAsync(g, "r2", """{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": true}""", chat: true);
        Assert.Equal("[DONE]", chat[^1]);
        Assert.Equal(Whole, FailoverTests.StreamText(chat));
        var prefill = Assert.Single(BodiesOn(_other, "r2"));
        Assert.False(prefill.TryGetProperty("continued_token_ids", out _));
        Assert.True(prefill.GetProperty("continue_final_message").GetBoolean());
        Assert.Equal(1, g.Gateway.Metrics.Retries.Value("m", "continuation_refused"));
        Assert.Equal(1, g.Gateway.Metrics.Continuations.Value("m", "text", "ok"));
        Assert.Equal(1, g.Gateway.Metrics.Continuations.Value("m", "prefill", "ok"));
        Assert.DoesNotContain(completion.Concat(chat), e => e.Contains("error", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OlderSluiceByItsVersion_ContinuesWithPromptIdsAndContinuedTokens_NeverContinuedTokenIds()
    {
        // a sluice serve from before continued_token_ids: its /version lists no continuation fields (it would ignore the
        // field, not refuse it), so it gets the prompt's ids and the ids so far as the prompt, and continued_tokens
        _other.Version = """{"version": "0.9.0"}""";
        await using var g = await TestGateway.StartAsync(Config("sluice", "ok", "sluice"));
        var events = await StreamAsync(g, "r1", """{"model": "m", "prompt": "x", "seed": 3, "stream": true}""");
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal(Whole, FailoverTests.StreamText(events));
        var body = Assert.Single(BodiesOn(_other, "r1"));
        Assert.Equal([1000, 1, 2, 3], body.GetProperty("prompt").EnumerateArray().Select(i => i.GetInt32()));
        Assert.Equal(3, body.GetProperty("continued_tokens").GetInt32());
        Assert.False(body.TryGetProperty("continued_token_ids", out _));

        // a current one lists continued_token_ids: asked with it (the prompt's ids, then the ids so far)
        _other.Version = """{"version": "1.0.0", "continuation": ["continued_tokens", "continued_token_ids"]}""";
        await using var g2 = await TestGateway.StartAsync(Config("sluice", "ok", "sluice"));
        var again = await StreamAsync(g2, "r2", """{"model": "m", "prompt": "x", "seed": 3, "stream": true}""");
        Assert.Equal(Whole, FailoverTests.StreamText(again));
        var current = Assert.Single(BodiesOn(_other, "r2"));
        Assert.Equal([1000], current.GetProperty("prompt").EnumerateArray().Select(i => i.GetInt32()));
        Assert.Equal([1, 2, 3], current.GetProperty("continued_token_ids").EnumerateArray().Select(i => i.GetInt32()));
        Assert.False(current.TryGetProperty("continued_tokens", out _));
    }
}
