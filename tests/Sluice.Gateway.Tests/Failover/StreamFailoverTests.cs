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
}
