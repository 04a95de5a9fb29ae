using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Failover;

/// <summary>
/// Issue 19's stream faults (7 to 11, 14) against <see cref="FaultyBackend"/>: the faulty deployment is tried first, a
/// second backend (model "ok" unless a test says otherwise) continues. The fake answers the words w1 to w6, starting
/// after those its prompt already holds, so an unbroken stream reads "w1 w2 w3 w4 w5 w6 " whoever served its parts.
/// </summary>
public sealed class StreamFailoverTests : IAsyncLifetime
{
    private const string Whole = "w1 w2 w3 w4 w5 w6 ";

    private FaultyBackend _faulty = null!;
    private FaultyBackend _healthy = null!;

    public async Task InitializeAsync()
    {
        _faulty = await FaultyBackend.StartAsync();
        _healthy = await FaultyBackend.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _faulty.DisposeAsync();
        await _healthy.DisposeAsync();
    }

    private string Config(string fault, string? healthy = "ok", string extra = "", string healthyExtra = "")
    {
        string yaml = $"models:\n  - name: m\n    deployments:\n      - {{url: '{_faulty.Url}', model: {fault}, kind: openai}}\n";
        if (healthy is not null)
        {
            yaml += $"      - {{url: '{_healthy.Url}', model: {healthy}, kind: openai{healthyExtra}}}\n";
        }
        return yaml + "routing: {strategy: weighted-round-robin}\n" + extra;
    }

    private static async Task<(HttpResponseMessage Response, List<string> Events)> StreamAsync(TestGateway g, string requestId, bool chat = false)
    {
        string json = chat
            ? """{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": true, "stream_options": {"include_usage": true}}"""
            : """{"model": "m", "prompt": "x", "stream": true, "stream_options": {"include_usage": true}}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, chat ? "/v1/chat/completions" : "/v1/completions") { Content = Requests.Json(json) };
        request.Headers.Add("X-Request-Id", requestId);
        var response = await g.Client.SendAsync(request);
        return (response, await Requests.EventsAsync(response));
    }

    /// <summary>One unbroken stream: every chunk has the same id, the text is whole, the usage covers it all, [DONE] last.</summary>
    private static void AssertUnbroken(List<string> events, int promptTokens = 1)
    {
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events.Take(events.Count - 1).Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.Equal(Whole, FailoverTests.StreamText(events));
        var usage = chunks[^1].GetProperty("usage");
        Assert.Equal(6, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(promptTokens, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.DoesNotContain(events, e => e.Contains("error", StringComparison.Ordinal));
    }

    private List<string> BodiesOn(FaultyBackend backend, string requestId) => [.. backend.Attempts.Where(a => a.RequestId == requestId).Select(a => a.Body)];

    [Fact]
    public async Task Fault7_FirstTokenLate_FailsOverBeforeAnythingIsSent()
    {
        await using var g = await TestGateway.StartAsync(Config("late", extra: "timeouts: {first_token: 1s}\n"));
        var clock = Stopwatch.StartNew();
        var (response, events) = await StreamAsync(g, "r1");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(25), "the late first token was waited for");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(_healthy.Url.Authority, Requests.Header(response, AttemptTransformer.BackendHeader));
        AssertUnbroken(events);
        Assert.Single(BodiesOn(_faulty, "r1"));
        Assert.Equal(1, g.Gateway.Metrics.Failovers.Value("m", "first_token"));
    }

    [Fact]
    public async Task Fault8_StreamCutMidAnswer_ContinuesOnAnotherReplicaAsOneStream()
    {
        await using var g = await TestGateway.StartAsync(Config("cut"));
        var (response, events) = await StreamAsync(g, "r1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertUnbroken(events);
        // completions continue by text: the prompt and the words already sent, three tokens fewer to go
        var continuation = JsonDocument.Parse(Assert.Single(BodiesOn(_healthy, "r1"))).RootElement;
        Assert.Equal("xw1 w2 w3 ", continuation.GetProperty("prompt").GetString());
        Assert.Equal(1, g.Gateway.Metrics.Continuations.Value("m", "text", "ok"));
        Assert.Equal(1, g.Gateway.Metrics.StreamFaults.Value("m", "cut"));
    }

    [Fact]
    public async Task StreamMetrics_CountTtftOnceAndEveryInterTokenGap_PerBackend_AndTheRequestOnTheOneThatFinished()
    {
        await using var g = await TestGateway.StartAsync(Config("cut"));
        var (_, events) = await StreamAsync(g, "r1");
        AssertUnbroken(events);
        var m = g.Gateway.Metrics;
        string faulty = _faulty.Url.Authority, healthy = _healthy.Url.Authority;
        Assert.Equal(1, m.Ttft.Totals("m", "default", faulty).Count); // the first token came from the replica that was cut
        Assert.Equal(0, m.Ttft.Totals("m", "default", healthy).Count);
        // six tokens, five gaps: two on the first replica, three on the one that continued (the cut's gap included)
        Assert.Equal(2, m.Itl.Totals("m", "default", faulty).Count);
        Assert.Equal(3, m.Itl.Totals("m", "default", healthy).Count);
        Assert.Equal(1, m.Duration.Totals("m", "default", healthy).Count);
        Assert.Equal(1, m.Requests.Value("m", "default", healthy, "200"));
        Assert.Equal(0, m.Requests.Value("m", "default", faulty, "200"));
        Assert.Equal(1, m.Failovers.Value("m", "cut"));
        Assert.Equal(0, m.Retries.Value("m", "cut"));
    }

    [Fact]
    public async Task Fault8_StreamCut_WithNowhereToContinue_EndsWithAnErrorEventNotASuccess()
    {
        await using var g = await TestGateway.StartAsync(Config("cut", healthy: null));
        var (response, events) = await StreamAsync(g, "r1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("[DONE]", events);
        var error = JsonDocument.Parse(events[^1]).RootElement.GetProperty("error");
        Assert.Equal("stream_interrupted", error.GetProperty("code").GetString());
        Assert.Contains("cut", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("w1 w2 w3 ", FailoverTests.StreamText(events.Take(events.Count - 1)));
    }

    [Fact]
    public async Task Fault9_StreamStallsWithTheConnectionOpen_IdleTimeoutContinuesElsewhere()
    {
        await using var g = await TestGateway.StartAsync(Config("stall", extra: "timeouts: {stream_idle: 1s}\n"));
        var (response, events) = await StreamAsync(g, "r1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertUnbroken(events);
        Assert.Equal(1, g.Gateway.Metrics.StreamFaults.Value("m", "stall"));
        Assert.Equal(1, g.Gateway.Metrics.Failovers.Value("m", "stall"));
    }

    [Fact]
    public async Task Fault9_StreamIdleTimeout_DefaultsTo10Seconds()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), Sluice.Gateway.Configuration.GatewayConfigReader.Parse(Config("stall")).Timeouts.StreamIdle);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Fault10_MalformedChunk_IsSkipped_NothingLeaks_AndTheGatewayStaysUp()
    {
        await using var g = await TestGateway.StartAsync(Config("malformed", healthy: null));
        var (response, events) = await StreamAsync(g, "r1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertUnbroken(events);
        Assert.DoesNotContain(events, e => e.Contains("BROKEN", StringComparison.Ordinal));
        Assert.Equal(1, g.Gateway.Metrics.StreamFaults.Value("m", "malformed"));
        var (again, more) = await StreamAsync(g, "r2");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        AssertUnbroken(more);
    }

    [Fact]
    public async Task Fault11_StreamEndsWithoutDone_FinishesPromptlyWithUsage()
    {
        await using var g = await TestGateway.StartAsync(Config("no-done", healthy: null, "timeouts: {stream_idle: 60s}\n"));
        var clock = Stopwatch.StartNew();
        var (response, events) = await StreamAsync(g, "r1");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed.TotalSeconds} s: the gateway waited for a [DONE] that never came");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertUnbroken(events);
    }

    [Fact]
    public async Task Fault14_ChatCut_ContinuesTheAssistantMessageWhereTheBackendAcceptsIt()
    {
        await using var g = await TestGateway.StartAsync(Config("cut"));
        var (response, events) = await StreamAsync(g, "r1", chat: true);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertUnbroken(events);
        var continuation = JsonDocument.Parse(Assert.Single(BodiesOn(_healthy, "r1"))).RootElement;
        var last = continuation.GetProperty("messages")[1];
        Assert.Equal("assistant", last.GetProperty("role").GetString());
        Assert.Equal("w1 w2 w3 ", last.GetProperty("content").GetString());
        Assert.True(continuation.GetProperty("continue_final_message").GetBoolean());
        Assert.Equal(1, g.Gateway.Metrics.Continuations.Value("m", "prefill", "ok"));
    }

    [Fact]
    public async Task Fault14_FallbackRejectsThePrefill_RestartsCleanly_AndTheCallerNeverSeesThe400()
    {
        await using var g = await TestGateway.StartAsync(Config("cut", healthy: "no-prefill"));
        var (response, events) = await StreamAsync(g, "r1", chat: true);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertUnbroken(events); // the restarted answer's first three words were not sent twice
        Assert.DoesNotContain(events, e => e.Contains("prefill", StringComparison.Ordinal));
        var bodies = BodiesOn(_healthy, "r1");
        Assert.Equal(2, bodies.Count); // the prefill (400), then the restart
        Assert.DoesNotContain("continue_final_message", bodies[1], StringComparison.Ordinal);
        // remembered: the next cut stream goes straight to a restart there (of two requests, one starts on the faulty replica)
        foreach (string id in new[] { "r2", "r3" })
        {
            var (_, next) = await StreamAsync(g, id, chat: true);
            AssertUnbroken(next);
            Assert.DoesNotContain("continue_final_message", Assert.Single(BodiesOn(_healthy, id)), StringComparison.Ordinal);
        }
        Assert.Equal(2, _faulty.Attempts.Count(a => a.RequestId != "r1") + 1);
        Assert.Equal(2, g.Gateway.Metrics.Continuations.Value("m", "restart", "ok"));
    }

    [Fact]
    public async Task Fault14_PrefillFalseInTheFile_IsNeverAskedForOne()
    {
        await using var g = await TestGateway.StartAsync(Config("cut", healthy: "no-prefill", healthyExtra: ", prefill: false"));
        var (_, events) = await StreamAsync(g, "r1", chat: true);
        AssertUnbroken(events);
        Assert.DoesNotContain("continue_final_message", Assert.Single(BodiesOn(_healthy, "r1")), StringComparison.Ordinal);
    }
    private static async Task<List<string>> StreamJsonAsync(TestGateway g, string requestId, string json, bool chat = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, chat ? "/v1/chat/completions" : "/v1/completions") { Content = Requests.Json(json) };
        request.Headers.Add("X-Request-Id", requestId);
        using var response = await g.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await Requests.EventsAsync(response);
    }

    /// <summary>Each choice's text and finish_reason, by the index the client saw.</summary>
    internal static SortedDictionary<int, (string Text, string? Finish)> ByChoice(IEnumerable<string> events)
    {
        var choices = new SortedDictionary<int, (string Text, string? Finish)>();
        foreach (var e in events.Where(e => e != "[DONE]").Select(e => JsonDocument.Parse(e).RootElement))
        {
            if (!e.TryGetProperty("choices", out var list))
            {
                continue;
            }
            foreach (var c in list.EnumerateArray())
            {
                int index = c.GetProperty("index").GetInt32();
                string text = c.TryGetProperty("text", out var t) ? t.GetString()! : c.GetProperty("delta").TryGetProperty("content", out var d) ? d.GetString() ?? "" : "";
                var (was, finish) = choices.GetValueOrDefault(index, ("", null));
                choices[index] = (was + text, c.GetProperty("finish_reason").ValueKind == JsonValueKind.String ? c.GetProperty("finish_reason").GetString() : finish);
            }
        }
        return choices;
    }

    private static JsonElement UsageOf(List<string> events) => JsonDocument.Parse(events[^2]).RootElement.GetProperty("usage");

    [Fact]
    public async Task Fault8_SeveralChoicesCut_EachUnfinishedChoiceContinuesOnItsOwnUnderItsIndex()
    {
        await using var g = await TestGateway.StartAsync(Config("cut"));
        var events = await StreamJsonAsync(g, "r1", """{"model": "m", "prompt": "x", "n": 3, "seed": 7, "stream": true, "stream_options": {"include_usage": true}}""");
        Assert.Equal("[DONE]", events[^1]);
        Assert.Single(events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement.GetProperty("id").GetString()).Distinct());
        var choices = ByChoice(events);
        Assert.Equal([0, 1, 2], choices.Keys);
        Assert.All(choices.Values, c => Assert.Equal((Whole, "stop"), c));
        // one n: 1 request per choice, each with the words it had, and its own seed (seed + its place, as sluice serve derives it)
        var bodies = BodiesOn(_healthy, "r1").Select(b => JsonDocument.Parse(b).RootElement).ToList();
        Assert.Equal(3, bodies.Count);
        Assert.All(bodies, b => Assert.Equal(1, b.GetProperty("n").GetInt32()));
        Assert.All(bodies, b => Assert.Equal("xw1 w2 w3 ", b.GetProperty("prompt").GetString()));
        Assert.Equal([7L, 8L, 9L], bodies.Select(b => b.GetProperty("seed").GetInt64()).Order());
        var usage = UsageOf(events);
        Assert.Equal(1, usage.GetProperty("prompt_tokens").GetInt32()); // billed once, not once per continuation
        Assert.Equal(18, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(3, g.Gateway.Metrics.Continuations.Value("m", "text", "ok")); // counted per choice
    }

    [Fact]
    public async Task Fault8_PromptArrayCut_EachChoiceContinuesWithItsOwnPromptAndSeed()
    {
        await using var g = await TestGateway.StartAsync(Config("cut"));
        var events = await StreamJsonAsync(g, "r1", """{"model": "m", "prompt": ["a", "b"], "n": 2, "seed": 7, "stream": true, "stream_options": {"include_usage": true}}""");
        Assert.Equal("[DONE]", events[^1]);
        var choices = ByChoice(events);
        Assert.Equal([0, 1, 2, 3], choices.Keys);
        Assert.All(choices.Values, c => Assert.Equal((Whole, "stop"), c));
        var bodies = BodiesOn(_healthy, "r1").Select(b => JsonDocument.Parse(b).RootElement)
            .Select(b => (b.GetProperty("prompt").GetString(), b.GetProperty("seed").GetInt64())).Order().ToList();
        // choice index = prompt × n + place: choices 0, 1 answer "a" with seeds 7, 8; choices 2, 3 answer "b" with seeds 7, 8
        Assert.Equal([("aw1 w2 w3 ", 7L), ("aw1 w2 w3 ", 8L), ("bw1 w2 w3 ", 7L), ("bw1 w2 w3 ", 8L)], bodies);
        var usage = UsageOf(events);
        Assert.Equal(2, usage.GetProperty("prompt_tokens").GetInt32()); // each prompt once
        Assert.Equal(24, usage.GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Fault14_ChatSeveralChoicesCut_EachContinuesItsOwnAssistantMessage()
    {
        await using var g = await TestGateway.StartAsync(Config("cut"));
        var events = await StreamJsonAsync(g, "r1", """{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2, "stream": true, "stream_options": {"include_usage": true}}""", chat: true);
        Assert.Equal("[DONE]", events[^1]);
        var choices = ByChoice(events);
        Assert.Equal([0, 1], choices.Keys);
        Assert.All(choices.Values, c => Assert.Equal((Whole, "stop"), c));
        // each choice's role chunk reached the client once: the continuations' were left out
        Assert.Equal(2, events.Count(e => e.Contains("\"role\"", StringComparison.Ordinal)));
        var bodies = BodiesOn(_healthy, "r1").Select(b => JsonDocument.Parse(b).RootElement).ToList();
        Assert.Equal(2, bodies.Count);
        Assert.All(bodies, b => Assert.Equal("w1 w2 w3 ", b.GetProperty("messages")[1].GetProperty("content").GetString()));
        Assert.Equal(2, g.Gateway.Metrics.Continuations.Value("m", "prefill", "ok"));
    }

    [Fact]
    public async Task Fault8_OneChoiceFinishedBeforeTheCut_IsNotAskedAgain()
    {
        await using var g = await TestGateway.StartAsync(Config("cut-early-0"));
        var events = await StreamJsonAsync(g, "r1", """{"model": "m", "prompt": "x", "n": 3, "seed": 7, "stream": true, "stream_options": {"include_usage": true}}""");
        Assert.Equal("[DONE]", events[^1]);
        var choices = ByChoice(events);
        Assert.Equal(("w1 w2 ", "stop"), choices[0]);
        Assert.Equal((Whole, "stop"), choices[1]);
        Assert.Equal((Whole, "stop"), choices[2]);
        var bodies = BodiesOn(_healthy, "r1").Select(b => JsonDocument.Parse(b).RootElement).ToList();
        Assert.Equal([8L, 9L], bodies.Select(b => b.GetProperty("seed").GetInt64()).Order()); // choices 1 and 2 only
        Assert.Equal(14, UsageOf(events).GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Fault8_SeveralChoicesCut_WithNowhereToContinue_EndsWithAnErrorEventNotASuccess()
    {
        await using var g = await TestGateway.StartAsync(Config("cut", healthy: null));
        var events = await StreamJsonAsync(g, "r1", """{"model": "m", "prompt": "x", "n": 2, "stream": true}""");
        Assert.DoesNotContain("[DONE]", events);
        var error = JsonDocument.Parse(events[^1]).RootElement.GetProperty("error");
        Assert.Equal("stream_interrupted", error.GetProperty("code").GetString());
        Assert.Contains("cut", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fault8_ToolCallInProgressOnAnOpenAiBackend_EndsWithStreamInterrupted_NotContinuedByText()
    {
        await using var g = await TestGateway.StartAsync(Config("cut-tool"));
        var events = await StreamJsonAsync(g, "r1", """{"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f"}}], "stream": true}""", chat: true);
        Assert.DoesNotContain("[DONE]", events);
        Assert.Contains(events, e => e.Contains("call_1", StringComparison.Ordinal)); // the call's start reached the client
        var error = JsonDocument.Parse(events[^1]).RootElement.GetProperty("error");
        Assert.Equal("stream_interrupted", error.GetProperty("code").GetString());
        Assert.Contains("tool call", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(BodiesOn(_healthy, "r1")); // never continued by text
    }
    [Fact]
    public async Task SeveralChoicesAndPrompts_NotCut_PassThroughOnce_FinishedWhenEveryChoiceIs()
    {
        await using var g = await TestGateway.StartAsync(Config("no-done", healthy: null, "timeouts: {stream_idle: 60s}\n"));
        var clock = Stopwatch.StartNew();
        var events = await StreamJsonAsync(g, "r1", """{"model": "m", "prompt": ["a", "b"], "n": 2, "stream": true, "stream_options": {"include_usage": true}}""");
        // the backend holds the stream open without [DONE]: the gateway ends it once all four choices finished, not before
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed.TotalSeconds} s");
        Assert.Equal("[DONE]", events[^1]);
        var choices = ByChoice(events);
        Assert.Equal([0, 1, 2, 3], choices.Keys);
        Assert.All(choices.Values, c => Assert.Equal((Whole, "stop"), c));
        Assert.Equal(24, UsageOf(events).GetProperty("completion_tokens").GetInt32());
        Assert.Single(BodiesOn(_faulty, "r1"));
        Assert.Equal(0, g.Gateway.Metrics.Continuations.Value("m", "text", "ok"));
    }

    [Fact]
    public async Task Fault9_SeveralChoicesStall_TheIdleTimeoutContinuesEachElsewhere()
    {
        await using var g = await TestGateway.StartAsync(Config("stall", extra: "timeouts: {stream_idle: 1s}\n"));
        var events = await StreamJsonAsync(g, "r1", """{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 3, "stream": true, "stream_options": {"include_usage": true}}""", chat: true);
        Assert.Equal("[DONE]", events[^1]);
        var choices = ByChoice(events);
        Assert.Equal([0, 1, 2], choices.Keys);
        Assert.All(choices.Values, c => Assert.Equal((Whole, "stop"), c));
        Assert.Equal(3, BodiesOn(_healthy, "r1").Count);
        Assert.Equal(1, g.Gateway.Metrics.StreamFaults.Value("m", "stall"));
        Assert.Equal(3, g.Gateway.Metrics.Continuations.Value("m", "prefill", "ok"));
    }
    [Fact]
    public async Task Fault8_OneOfSeveralChoicesCannotBeContinued_TheOthersStop_AndTheStreamEndsWithOneErrorEvent()
    {
        // choice 0 was mid tool call (an openai backend cannot continue it), choice 1 had sent nothing yet
        await using var g = await TestGateway.StartAsync(Config("cut-tool", healthy: "delay-2000"));
        var events = await StreamJsonAsync(g, "r1", """{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2, "tools": [{"type": "function", "function": {"name": "f"}}], "stream": true}""", chat: true);
        Assert.DoesNotContain("[DONE]", events);
        Assert.All(events, e => JsonDocument.Parse(e)); // every event whole: nothing half-written by the choice that was stopped
        var error = JsonDocument.Parse(events[^1]).RootElement.GetProperty("error");
        Assert.Equal("stream_interrupted", error.GetProperty("code").GetString());
        Assert.Contains("choice 0", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("tool call", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Single(events, e => e.Contains("stream_interrupted", StringComparison.Ordinal));
    }
}
