using Microsoft.Extensions.Time.Testing;
using Sluice.Server.Metrics;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Metrics;

/// <summary>The gauges while work runs and waits, and the counters of requests that end early: 429, a client that leaves, a timeout.</summary>
public sealed class MetricsEarlyEndTests
{
    private const string Long = """{"prompt": "hold the engine", "max_tokens": 900, "ignore_eos": true, "stream": true}""";

    [Fact]
    public async Task RunningWaitingShedCancelledAndTimedOut_AreEachCounted()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new ServerOptions { MaxNumQueuedReqs = 1, RequestTimeout = TimeSpan.FromSeconds(5), Time = clock };
        await using var t = await MetricsServer.StartAsync(MetricsCompat.Vllm, options, TestServer.DefaultEngine with { MaxNumSeqs = 1 }, TestModels.LoadSlow);
        var running = await t.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(Long) }, HttpCompletionOption.ResponseHeadersRead);
        clock.Advance(TimeSpan.FromSeconds(3)); // the second request's timeout falls 3 s after the first's
        using var leave = new CancellationTokenSource();
        var queued = await t.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(Long) }, HttpCompletionOption.ResponseHeadersRead, leave.Token);
        await WaitUntil(() => t.Engine.Stats is { Running: 1, Waiting: 1, LastStepSequences: 1 });

        var busy = await t.ScrapeAsync();
        (string, string)[] model = [("model_name", t.Server.Host.Name), ("engine", "0")];
        Assert.Equal(1, busy.Value("sluice_requests_running"));
        Assert.Equal(1, busy.Value("sluice_requests_waiting"));
        Assert.Equal(1, busy.Value("vllm:num_requests_running", model));
        Assert.Equal(1, busy.Value("vllm:num_requests_waiting", model));
        Assert.Equal(1, busy.Value("sluice_step_sequences"));
        Assert.InRange(busy.Value("sluice_step_tokens"), 1, 256);
        Assert.True(busy.Value("sluice_kv_cache_usage_ratio") > 0);
        Assert.Equal(busy.Value("sluice_kv_cache_usage_ratio"), busy.Value("vllm:kv_cache_usage_perc", model));
        Assert.True(busy.Value("sluice_kv_cache_blocks_free") < busy.Value("sluice_kv_cache_blocks"));

        Assert.Equal(429, (await t.PostJsonAsync("/v1/completions", """{"prompt": "one more", "max_tokens": 2}""")).Status);
        clock.Advance(TimeSpan.FromSeconds(2.5)); // the first times out; the second starts running
        var events = await Sse.ReadAllAsync(running);
        Assert.Equal("request_timeout", events.Chunks[^1].GetProperty("error").GetProperty("code").GetString());
        await WaitUntil(() => t.Engine.Stats is { Running: 1, Waiting: 0 });
        leave.Cancel(); // and its client leaves
        queued.Dispose();
        await t.WaitForAllBlocksFreeAsync();

        var s = await t.ScrapeAsync();
        Assert.Equal(1, s.Value("sluice_requests_total", ("route", "/v1/completions"), ("code", "429"), ("outcome", "rejected")));
        Assert.Equal(1, s.Value("sluice_requests_total", ("route", "/v1/completions"), ("code", "499"), ("outcome", "cancelled")));
        Assert.Equal(1, s.Value("sluice_requests_total", ("route", "/v1/completions"), ("code", "408"), ("outcome", "timed_out")));
        Assert.Equal(3, s.Sum("sluice_requests_total"));
        foreach (var kind in new[] { "queue_full", "cancelled", "timeout" })
        {
            Assert.True(s.Value("sluice_request_errors_total", ("kind", kind)) == 1, kind);
            Assert.True(s.Value("sluice_rejections_total", ("reason", kind)) == 1, kind);
        }
        Assert.Equal(2, s.Value("sluice_sequences_finished_total", ("finish_reason", "abort")));
        Assert.Equal(2, s.Value("vllm:request_success_total", [.. model, ("finished_reason", "abort")]));
        Assert.Equal(0, s.Value("sluice_requests_running"));
        Assert.Equal(0, s.Value("sluice_requests_waiting"));
        Assert.Equal(0, s.Value("sluice_kv_cache_usage_ratio"));
        Assert.Equal(2, s.Value("sluice_e2e_request_latency_seconds_count")); // both reached the engine; the 429 did not
        Assert.Equal(2, s.Value("sluice_time_to_first_token_seconds_count"));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (int i = 0; i < 3000 && !condition(); i++)
        {
            await Task.Delay(1);
        }
        Assert.True(condition());
    }
}
