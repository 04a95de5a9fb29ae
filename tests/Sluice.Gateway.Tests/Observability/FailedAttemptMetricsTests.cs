using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Observability;

/// <summary>sluice_gateway_failed_attempt_duration_seconds: every attempt that did not give the client its answer, timed
/// from sending it to giving up on it, by backend and reason; the attempts that answered are not in it.</summary>
public sealed class FailedAttemptMetricsTests
{
    private static string Config(FaultyBackend faulty, string fault, FaultyBackend healthy, string extra = "") =>
        $"models:\n  - name: m\n    deployments:\n      - {{url: '{faulty.Url}', model: {fault}, kind: openai, weight: 1000}}\n"
        + $"      - {{url: '{healthy.Url}', model: ok, kind: openai, weight: 1}}\n"
        + "routing: {strategy: weighted-round-robin}\nbreaker: {failure_threshold: 1000}\n" + extra;

    private static string Count(string metrics, string backend, string reason)
    {
        string prefix = $"sluice_gateway_failed_attempt_duration_seconds_count{{model=\"m\",backend=\"{backend}\",reason=\"{reason}\"}} ";
        return metrics.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..] ?? "absent";
    }

    [Fact]
    public async Task FailedAttempts_AreTimedPerBackendAndReason_AndAnsweredOnesAreNot()
    {
        await using var faulty = await FaultyBackend.StartAsync();
        await using var healthy = await FaultyBackend.StartAsync();
        await using var g = await TestGateway.StartAsync(Config(faulty, "503", healthy));
        for (int i = 0; i < 3; i++)
        {
            using var response = await g.Client.PostAsync("/v1/completions", Requests.Completion("m"));
            Assert.Equal(200, (int)response.StatusCode);
        }
        string metrics = await g.Client.GetStringAsync("/metrics");
        Assert.Equal("3", Count(metrics, faulty.Url.Authority, "status_503"));
        Assert.DoesNotContain($"sluice_gateway_failed_attempt_duration_seconds_count{{model=\"m\",backend=\"{healthy.Url.Authority}\"", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SilentBackend_IsTimedUpToItsHeaderTimeout_UnderReasonTimeout()
    {
        await using var faulty = await FaultyBackend.StartAsync();
        await using var healthy = await FaultyBackend.StartAsync();
        await using var g = await TestGateway.StartAsync(Config(faulty, "silent", healthy, "timeouts: {idle: 500ms}\n"));
        using var response = await g.Client.PostAsync("/v1/completions", Requests.Completion("m"));
        Assert.Equal(200, (int)response.StatusCode);
        string metrics = await g.Client.GetStringAsync("/metrics");
        Assert.Equal("1", Count(metrics, faulty.Url.Authority, "timeout"));
        // the attempt lasted its 0.5 s header timeout: below the 0.5 s bucket it is not, within the 1 s one it is
        string bucket(string le) => metrics.Split('\n').First(l => l.StartsWith(
            $"sluice_gateway_failed_attempt_duration_seconds_bucket{{model=\"m\",backend=\"{faulty.Url.Authority}\",reason=\"timeout\",le=\"{le}\"}} ", StringComparison.Ordinal)).Split(' ')[^1];
        Assert.Equal("0", bucket("0.25"));
    }

    [Fact]
    public async Task CutStream_IsAFailedAttemptWithReasonCut()
    {
        await using var faulty = await FaultyBackend.StartAsync();
        await using var healthy = await FaultyBackend.StartAsync();
        await using var g = await TestGateway.StartAsync(Config(faulty, "cut", healthy));
        using var response = await g.Client.PostAsync("/v1/completions", Requests.Completion("m", maxTokens: 6, stream: true));
        var events = await Requests.EventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        string metrics = await g.Client.GetStringAsync("/metrics");
        Assert.Equal("1", Count(metrics, faulty.Url.Authority, "cut"));
        Assert.Equal("absent", Count(metrics, healthy.Url.Authority, "cut"));
    }
}
