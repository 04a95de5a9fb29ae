using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Failover;

/// <summary>
/// Issue 19's faults against <see cref="FaultyBackend"/>: each public model "m" has the faulty deployment first and,
/// where a test says so, a healthy one ("ok") on a second backend. The fake's attempt log shows what the gateway did.
/// </summary>
public sealed class FailoverTests : IAsyncLifetime
{
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

    private string Config(string fault, bool withHealthy, string extra = "")
    {
        string yaml = $"models:\n  - name: m\n    deployments:\n      - {{url: '{_faulty.Url}', model: {fault}, kind: openai}}\n";
        if (withHealthy)
        {
            yaml += $"      - {{url: '{_healthy.Url}', model: ok, kind: openai}}\n";
        }
        // weighted round robin with the faulty replica weighted first: every request tries it first
        return yaml + "routing: {strategy: weighted-round-robin}\n" + extra;
    }

    private static async Task<(HttpResponseMessage Response, string Body)> SendAsync(TestGateway g, string requestId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Requests.Json("""{"model": "m", "prompt": "x"}""") };
        request.Headers.Add("X-Request-Id", requestId);
        var response = await g.Client.SendAsync(request);
        return (response, await response.Content.ReadAsStringAsync());
    }

    private int AttemptsOn(FaultyBackend backend, string requestId) => backend.Attempts.Count(a => a.RequestId == requestId);

    [Fact]
    public async Task Fault1_429WithRetryAfter_FailsOverAndKeepsTrafficAwayUntilThen()
    {
        await using var g = await TestGateway.StartAsync(Config("429-retry-after", withHealthy: true));
        var (first, _) = await SendAsync(g, "r1");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(_healthy.Url.Authority, Requests.Header(first, AttemptTransformer.BackendHeader));
        for (int i = 2; i <= 6; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(g, $"r{i}")).Response.StatusCode);
        }
        // the one 429 asked for 30 s: no request went back to it meanwhile, and none in a tight loop
        Assert.Single(_faulty.Attempts);
    }

    [Fact]
    public async Task Fault1_429WithRetryAfter_AndNowhereElse_PassesTheBackendsAnswerOn()
    {
        await using var g = await TestGateway.StartAsync(Config("429-retry-after", withHealthy: false));
        var (response, body) = await SendAsync(g, "r1");
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("30", response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("slow down", body, StringComparison.Ordinal);
        Assert.Equal(1, AttemptsOn(_faulty, "r1"));
    }

    [Fact]
    public async Task Fault2_429WithoutRetryAfter_BacksOffWithJitterThenFailsOver()
    {
        await using var g = await TestGateway.StartAsync(Config("429", withHealthy: true, "retry: {backoff: 100ms, rate_limited_retries: 2}\n"));
        var (response, _) = await SendAsync(g, "r1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(_healthy.Url.Authority, Requests.Header(response, AttemptTransformer.BackendHeader));
        var times = _faulty.Attempts.Where(a => a.RequestId == "r1").Select(a => a.Time).ToList();
        Assert.Equal(3, times.Count); // the first and two retries after a back-off: bounded
        for (int i = 1; i < times.Count; i++)
        {
            Assert.True(times[i] - times[i - 1] >= TimeSpan.FromMilliseconds(9), $"retry {i} came {(times[i] - times[i - 1]).TotalMilliseconds} ms after the one before: no back-off");
        }
        Assert.Equal(2, g.Gateway.Metrics.Retries.Value("m", "status_429"));
        Assert.Equal(1, g.Gateway.Metrics.Failovers.Value("m", "status_429"));
    }

    [Fact]
    public async Task Fault2_429WithoutRetryAfter_AndNowhereElse_EndsAfterBoundedAttemptsWithThe429()
    {
        await using var g = await TestGateway.StartAsync(Config("429", withHealthy: false, "retry: {backoff: 50ms, rate_limited_retries: 2}\n"));
        var (response, body) = await SendAsync(g, "r1");
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Contains("rate limited", body, StringComparison.Ordinal);
        Assert.Equal(3, AttemptsOn(_faulty, "r1"));
    }

    [Fact]
    public async Task Fault12_ContextLength400_GoesToTheLargerContextFallback_NotRetried()
    {
        string yaml = $"models:\n  - name: m\n    context_window_fallbacks: [big]\n    deployments:\n      - {{url: '{_faulty.Url}', model: ctx-400, kind: openai}}\n"
            + $"  - name: big\n    deployments:\n      - {{url: '{_healthy.Url}', model: ok, kind: openai}}\n";
        await using var g = await TestGateway.StartAsync(yaml);
        var (response, body) = await SendAsync(g, "r1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", JsonDocument.Parse(body).RootElement.GetProperty("model").GetString());
        Assert.Equal(1, AttemptsOn(_faulty, "r1"));
        Assert.Equal(1, AttemptsOn(_healthy, "r1"));
        Assert.Equal(1, g.Gateway.Metrics.Failovers.Value("m", "context_window"));
        // a stream too, before anything reached the client
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Requests.Json("""{"model": "m", "prompt": "x", "stream": true}""") };
        request.Headers.Add("X-Request-Id", "r2");
        var streamed = await g.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
        Assert.Equal("w1 w2 w3 w4 w5 w6 ", StreamText(await Requests.EventsAsync(streamed)));
    }

    [Fact]
    public async Task Fault12_ContextLength400_WithoutAFallback_FailsCleanlyWithoutARetry()
    {
        await using var g = await TestGateway.StartAsync(Config("ctx-400", withHealthy: true));
        var (response, body) = await SendAsync(g, "r1");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("context_length_exceeded", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(1, AttemptsOn(_faulty, "r1"));
        Assert.Equal(0, AttemptsOn(_healthy, "r1"));
    }

    [Fact]
    public async Task Fault15_BackendDownThenHealthy_CircuitOpens_ThenItGetsTrafficAgainWithin30s()
    {
        await using var g = await TestGateway.StartAsync(Config("ok", withHealthy: true,
            "breaker: {failure_threshold: 2, open_for: 1s}\nhealth: {interval: 200ms, timeout: 1s}\n"));
        _faulty.Down = true;
        for (int i = 0; i < 12; i++)
        {
            var (response, _) = await SendAsync(g, $"down{i}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode); // the others take it
            Assert.Equal(_healthy.Url.Authority, Requests.Header(response, AttemptTransformer.BackendHeader));
        }
        var state = g.Gateway.Router.Backends.All.Single(b => b.Id == _faulty.Url.Authority);
        Assert.True(state.Breaker.State != Sluice.Gateway.Health.CircuitState.Closed || !state.Ready, "the down backend is still routed to");
        Assert.True(_faulty.Attempts.Count(a => a.RequestId.StartsWith("down", StringComparison.Ordinal)) <= 4, "the down backend kept getting requests");
        _faulty.Down = false;
        var recovered = Stopwatch.StartNew();
        int n = 0;
        while (true)
        {
            var (response, _) = await SendAsync(g, $"up{n++}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            if (Requests.Header(response, AttemptTransformer.BackendHeader) == _faulty.Url.Authority)
            {
                break;
            }
            Assert.True(recovered.Elapsed < TimeSpan.FromSeconds(30), "no traffic to the recovered backend within 30 s");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Rpm_AReplicaAtItsRequestsPerMinute_IsSkippedForTheRestOfTheMinute()
    {
        string yaml = $"models:\n  - name: m\n    deployments:\n      - {{url: '{_faulty.Url}', model: ok, kind: openai, rpm: 2, weight: 1000}}\n"
            + $"      - {{url: '{_healthy.Url}', model: ok, kind: openai, weight: 1}}\nrouting: {{strategy: weighted-round-robin}}\n";
        await using var g = await TestGateway.StartAsync(yaml);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(g, $"r{i}")).Response.StatusCode);
        }
        Assert.Equal(2, _faulty.Attempts.Count);
        Assert.Equal(3, _healthy.Attempts.Count);
    }

    [Fact]
    public async Task Fallbacks_EveryReplicaFailed_TheModelsFallbackAnswers()
    {
        string yaml = $"models:\n  - name: m\n    fallbacks: [backup]\n    deployments:\n      - {{url: '{_faulty.Url}', model: '503', kind: openai}}\n"
            + $"  - name: backup\n    deployments:\n      - {{url: '{_healthy.Url}', model: ok, kind: openai}}\n";
        await using var g = await TestGateway.StartAsync(yaml);
        var (response, body) = await SendAsync(g, "r1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", JsonDocument.Parse(body).RootElement.GetProperty("model").GetString());
        Assert.Equal(1, g.Gateway.Metrics.Failovers.Value("m", "fallback"));
    }

    /// <summary>The text of a completion stream's chunks.</summary>
    internal static string StreamText(IEnumerable<string> events) => string.Concat(events.Where(e => e != "[DONE]")
        .Select(e => JsonDocument.Parse(e).RootElement).Where(e => e.TryGetProperty("choices", out var c) && c.GetArrayLength() > 0)
        .Select(e => e.GetProperty("choices")[0].TryGetProperty("text", out var t) ? t.GetString()
            : e.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var c) ? c.GetString() : ""));

    [Fact]
    public async Task Fault3_500Once_IsRetriedOnTheSameBackendAndSucceeds()
    {
        await using var g = await TestGateway.StartAsync(Config("500-once", withHealthy: false));
        var (response, body) = await SendAsync(g, "r1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, AttemptsOn(_faulty, "r1"));
        Assert.Contains("\"model\": \"500-once\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fault4_503Persistent_FailsOver_OrSurfacesTheOriginalError()
    {
        await using (var g = await TestGateway.StartAsync(Config("503", withHealthy: true)))
        {
            var (response, _) = await SendAsync(g, "r1");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(1, AttemptsOn(_faulty, "r1"));
            Assert.Equal(1, AttemptsOn(_healthy, "r1"));
        }
        await using (var g = await TestGateway.StartAsync(Config("503", withHealthy: false)))
        {
            var (response, body) = await SendAsync(g, "r2");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("overloaded", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString());
            Assert.Equal("r2", Requests.Header(response, "X-Request-Id"));
            Assert.Equal(1, AttemptsOn(_faulty, "r2"));
        }
    }

    [Fact]
    public async Task Fault5_ConnectionResetBeforeHeaders_FailsOver()
    {
        await using var g = await TestGateway.StartAsync(Config("reset", withHealthy: true));
        var (response, _) = await SendAsync(g, "r1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(_healthy.Url.Authority, Requests.Header(response, AttemptTransformer.BackendHeader));
        Assert.Equal(1, AttemptsOn(_faulty, "r1"));
    }

    [Fact]
    public async Task Fault6_NoResponse_EndsAtTheTimeoutAndFailsOverAtOnce()
    {
        await using var g = await TestGateway.StartAsync(Config("silent", withHealthy: true, "timeouts: {idle: 1s}\n"));
        var clock = Stopwatch.StartNew();
        var (response, _) = await SendAsync(g, "r1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, AttemptsOn(_faulty, "r1")); // not retried on the silent backend
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 20);
    }

    [Fact]
    public async Task Fault13_ContentPolicy400_IsNotRetriedAndKeepsTheBackendsReason()
    {
        await using var g = await TestGateway.StartAsync(Config("policy-400", withHealthy: true));
        var (response, body) = await SendAsync(g, "r1");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("content_policy_violation", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(1, AttemptsOn(_faulty, "r1"));
        Assert.Equal(0, AttemptsOn(_healthy, "r1"));
    }

    [Fact]
    public async Task Fault16_Accounting_NamesTheModelThatAnswered_AndCountsOnlyIt()
    {
        await using var g = await TestGateway.StartAsync(Config("503", withHealthy: true));
        var (response, body) = await SendAsync(g, "r1");
        Assert.Equal("ok", JsonDocument.Parse(body).RootElement.GetProperty("model").GetString());
        Assert.Equal(_healthy.Url.Authority, Requests.Header(response, AttemptTransformer.BackendHeader));
        Assert.Equal(1, g.Gateway.Metrics.Requests.Value("m", "default", _healthy.Url.Authority, "200"));
        Assert.Equal(0, g.Gateway.Metrics.Requests.Value("m", "default", _faulty.Url.Authority, "503"));
        Assert.Equal(1, g.Gateway.Metrics.Failovers.Value("m", "status_503"));
        Assert.Equal(0, g.Gateway.Metrics.Retries.Value("m", "status_503"));
    }
}
