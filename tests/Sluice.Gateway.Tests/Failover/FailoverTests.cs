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
        Assert.Equal(1, g.Gateway.Metrics.Retries.Value("m", "status_503"));
    }
}
