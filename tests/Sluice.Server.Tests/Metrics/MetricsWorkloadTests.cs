using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Sluice.Server.Metrics;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Metrics;

/// <summary>Every metric moves as it should under a scripted workload, with exact counts where the workload fixes them.</summary>
public sealed class MetricsWorkloadTests
{
    // 40 bytes: two full KV blocks of 16 tokens that a repeat finds in the prefix cache
    private const string Prompt = "The quick brown fox jumps over a lazy do";

    [Fact]
    public async Task ScriptedWorkload_MovesEveryCounterHistogramAndGauge_ByExactAmounts()
    {
        await using var t = await MetricsServer.StartAsync(MetricsCompat.Vllm, new ServerOptions { ApiKeys = ["sk-m"] });
        var before = await t.ScrapeAsync();
        Assert.Equal(0, before.Sum("sluice_requests_total"));

        int promptTokens = 0;
        for (int i = 0; i < 3; i++)
        {
            promptTokens += await CompleteAsync(t, $$"""{"prompt": "{{Prompt}}", "max_tokens": 4, "temperature": 0, "ignore_eos": true}""", 4);
        }
        promptTokens += await CompleteAsync(t, """{"prompt": "two of them", "max_tokens": 2, "n": 2, "temperature": 0, "ignore_eos": true}""", 4);
        var chat = await t.PostAsync("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stream": true, "stream_options": {"include_usage": true}, "ignore_eos": true}""");
        string sse = await chat.Content.ReadAsStringAsync();
        promptTokens += JsonDocument.Parse(sse.Split('\n').Last(l => l.Contains("\"usage\":{", StringComparison.Ordinal))[6..]).RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();

        await t.PostAsync("/v1/completions", "{not json");
        await t.PostAsync("/v1/completions", """{"prompt": "x", "max_tokens": -1}""");
        await t.PostAsync("/v1/completions", $$"""{"prompt": "{{new string('a', 1100)}}"}""");
        await t.PostAsync("/v1/completions", """{"prompt": "x", "model": "other"}""");
        await t.Client.GetAsync("/no/such/route");
        using (var anonymous = new HttpClient { BaseAddress = t.BaseUri })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/v1/completions", new StringContent("{}"))).StatusCode);
        }

        var s = await t.ScrapeAsync();
        Assert.Equal(4, s.Value("sluice_requests_total", ("route", "/v1/completions"), ("code", "200"), ("outcome", "completed")));
        Assert.Equal(1, s.Value("sluice_requests_total", ("route", "/v1/chat/completions"), ("code", "200"), ("outcome", "completed")));
        Assert.Equal(3, s.Value("sluice_requests_total", ("route", "/v1/completions"), ("code", "400"), ("outcome", "rejected")));
        Assert.Equal(1, s.Value("sluice_requests_total", ("route", "unmatched"), ("code", "404"), ("outcome", "rejected")));
        Assert.Equal(11, s.Sum("sluice_requests_total"));
        foreach (var (kind, n) in new[] { ("invalid_request", 2), ("too_long", 1), ("model_not_found", 1), ("unknown_route", 1), ("unauthorized", 1), ("internal", 0), ("queue_full", 0) })
        {
            Assert.True(n == s.Value("sluice_request_errors_total", ("kind", kind)), kind);
            if (kind != "internal")
            {
                Assert.True(n == s.Value("sluice_rejections_total", ("reason", kind)), kind);
            }
        }

        const int Generated = (3 * 4) + (2 * 2) + 3;
        Assert.Equal(Generated, s.Value("sluice_generation_tokens_total"));
        Assert.Equal(promptTokens, s.Value("sluice_prompt_tokens_total"));
        Assert.Equal(6, s.Value("sluice_sequences_finished_total", ("finish_reason", "length")));
        Assert.Equal(0, s.Value("sluice_sequences_finished_total", ("finish_reason", "stop")));
        Assert.Equal(64, s.Value("sluice_prefix_cache_hits_total")); // the 2nd and 3rd repeats each find 2 blocks of 16
        Assert.True(s.Value("sluice_prefix_cache_queries_total") >= promptTokens);

        // five generation requests reached the engine; every gap between tokens of a sequence is one ITL sample
        foreach (var h in new[] { "sluice_time_to_first_token_seconds", "sluice_e2e_request_latency_seconds", "sluice_request_queue_time_seconds",
            "sluice_request_prefill_time_seconds", "sluice_request_decode_time_seconds", "sluice_request_inference_time_seconds", "sluice_request_prompt_tokens" })
        {
            Assert.True(s.Value(h + "_count") == 5, h);
            Assert.True(s.Value(h + "_bucket", ("le", "+Inf")) == 5, h);
        }
        Assert.Equal((3 * 3) + (2 * 1) + 2, s.Value("sluice_inter_token_latency_seconds_count"));
        Assert.Equal(Generated, s.Value("sluice_request_generation_tokens_sum"));
        Assert.Equal(promptTokens, s.Value("sluice_request_prompt_tokens_sum"));
        Assert.True(s.Value("sluice_e2e_request_latency_seconds_sum") >= s.Value("sluice_time_to_first_token_seconds_sum"));

        double steps = s.Value("sluice_engine_steps_total");
        Assert.True(steps >= 4 + 2 + 3);
        Assert.True(s.Value("sluice_engine_step_sequences_total") >= steps);
        // every prompt token not found in the prefix cache, and every generated token but the last of each of the 6 sequences
        Assert.Equal(promptTokens - 64 + Generated - 6, s.Value("sluice_engine_step_tokens_total"));
        Assert.Equal(0, s.Value("sluice_requests_running"));
        Assert.Equal(0, s.Value("sluice_kv_cache_usage_ratio"));
        Assert.Equal(s.Value("sluice_kv_cache_blocks"), s.Value("sluice_kv_cache_blocks_free"));
        Assert.Equal(16, s.Value("sluice_engine_max_num_seqs"));
        Assert.Equal(1, s.Value("sluice_model_state", ("state", "ready")));
        Assert.Equal(0, s.Value("sluice_model_state", ("state", "loading")));
        Assert.True(s.Value("sluice_model_load_seconds") > 0);
        // resident memory is this process's (the test host's) RSS; not compared with the managed heap, whose count
        // includes large arrays on fresh, still untouched (so not resident) pages
        double rss = s.Value("process_resident_memory_bytes");
        Assert.InRange(rss, Environment.WorkingSet * 0.5, Environment.WorkingSet * 2.0);
        Assert.True(s.Value("sluice_gc_heap_bytes") > 0);

        // configuration, model and process series read what they describe
        var engine = t.Engine;
        Assert.Equal(engine.KvCacheBytes, s.Value("sluice_kv_cache_bytes"));
        Assert.True(s.Value("sluice_kv_cache_blocks_cached") >= 2); // the repeated prompt's two full blocks stay cached
        Assert.Equal(256, s.Value("sluice_engine_max_num_batched_tokens"));
        Assert.Equal(engine.MaxModelLen, s.Value("sluice_engine_max_model_len"));
        Assert.Equal(1, s.Value("sluice_engine_prefix_caching_enabled"));
        Assert.Equal(256, s.Value("sluice_admission_queue_limit"));
        Assert.Equal(engine.Model.WeightBytes, s.Value("sluice_model_weights_bytes"));
        Assert.Equal(1, s.Sum("sluice_model_info"));
        string info = s.Text.Split('\n').Single(l => l.StartsWith("sluice_model_info{", StringComparison.Ordinal));
        Assert.Contains($"model=\"{t.Server.Host.Name}\",format=\"{engine.Model.Format}\",architecture=\"llama\"", info);
        Assert.Matches("quantization=\"[a-z0-9_+]+\"", info);
        Assert.Matches("tokenizer_hash=\"[0-9a-f]{16}\",chat_template_hash=\"[0-9a-f]{16}\"", info);
        Assert.Contains("sha256=\"", info); // empty: this server was given no model path to hash
        Assert.Equal(1, s.Sum("sluice_build_info"));
        double busy = s.Value("sluice_engine_busy_seconds_total");
        Assert.True(busy > 0, "steps ran, so the engine was busy");
        Assert.True(busy <= (DateTime.UtcNow - Process.GetCurrentProcess().StartTime.ToUniversalTime()).TotalSeconds, $"busy {busy} s exceeds the process' life");
        string build = s.Text.Split('\n').Single(l => l.StartsWith("sluice_build_info{", StringComparison.Ordinal));
        Assert.Contains($"kernel_path=\"{Engine.Kernels.Simd.Path}\",threads=\"{engine.Threads}\"", build);
        Assert.True(s.Value("sluice_gc_allocated_bytes_total") > before.Value("sluice_gc_allocated_bytes_total"));
        Assert.True(s.Value("sluice_gc_collections_total", ("generation", "0")) >= before.Value("sluice_gc_collections_total", ("generation", "0")));
        Assert.True(s.Value("sluice_gc_pause_seconds_total") >= before.Value("sluice_gc_pause_seconds_total"));
        Assert.True(s.Value("sluice_gc_committed_bytes") >= 0);
        Assert.True(s.Value("sluice_memory_limit_bytes") >= s.Value("process_resident_memory_bytes"));
        Assert.True(s.Value("process_cpu_seconds_total") > before.Value("process_cpu_seconds_total"));
        Assert.True(s.Value("process_virtual_memory_bytes") > s.Value("process_resident_memory_bytes"));
        Assert.True(s.Value("process_open_fds") > 0);
        Assert.InRange(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - s.Value("process_start_time_seconds"), 0, 3600);

        // the vLLM names carry the same numbers
        (string, string)[] model = [("model_name", t.Server.Host.Name), ("engine", "0")];
        Assert.Equal(Generated, s.Value("vllm:generation_tokens_total", model));
        Assert.Equal(promptTokens, s.Value("vllm:prompt_tokens_total", model));
        Assert.Equal(64, s.Value("vllm:prefix_cache_hits_total", model));
        Assert.Equal(6, s.Value("vllm:request_success_total", [.. model, ("finished_reason", "length")]));
        Assert.Equal(5, s.Value("vllm:time_to_first_token_seconds_count", model));
        Assert.Equal(13, s.Value("vllm:inter_token_latency_seconds_count", model));
        Assert.Equal(s.Value("sluice_request_queue_time_seconds_sum"), s.Value("vllm:request_queue_time_seconds_sum", model), 9);
        Assert.Equal(0, s.Value("vllm:num_requests_waiting", model));
    }

    [Fact]
    public async Task TinyKvCache_CountsPreemptions_UnderBothNames()
    {
        var engine = TestServer.DefaultEngine with { KvCacheMemory = 24 * 4096, MaxNumSeqs = 8 }; // 24 blocks of 16 tokens
        await using var t = await MetricsServer.StartAsync(MetricsCompat.Vllm, engine: engine);
        var requests = Enumerable.Range(0, 8).Select(i =>
            t.PostAsync("/v1/completions", $$"""{"prompt": "request {{i}} wants room", "max_tokens": 300, "temperature": 0, "ignore_eos": true}"""));
        Assert.All(await Task.WhenAll(requests), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var s = await t.ScrapeAsync();
        double preempted = s.Value("sluice_preemptions_total", ("reason", "kv_cache_full"));
        Assert.True(preempted > 0, "8 sequences of ~320 tokens cannot all fit in 24 blocks");
        Assert.Equal(preempted, s.Value("vllm:num_preemptions_total", ("model_name", t.Server.Host.Name), ("engine", "0")));
        Assert.Equal(8 * 300, s.Value("sluice_generation_tokens_total"));
    }

    [Fact]
    public async Task WhileLoading_TheStateGaugeSaysSo_AndEngineSeriesReadZero()
    {
        var gate = new TaskCompletionSource();
        await using var t = await MetricsServer.StartAsync(load: () =>
        {
            gate.Task.Wait();
            return TestModels.LoadTiny();
        }, waitReady: false);
        try
        {
            var s = await t.ScrapeAsync();
            Assert.Equal(1, s.Value("sluice_model_state", ("state", "loading")));
            Assert.Equal(0, s.Value("sluice_model_state", ("state", "ready")));
            Assert.Equal(0, s.Value("sluice_kv_cache_blocks"));
            Assert.False(s.Has("sluice_model_info"));
        }
        finally
        {
            gate.SetResult();
        }
    }

    private static async Task<int> CompleteAsync(TestServer t, string json, int expectedTokens)
    {
        var (status, body, _) = await t.PostJsonAsync("/v1/completions", json);
        Assert.Equal(200, status);
        var usage = body.GetProperty("usage");
        Assert.Equal(expectedTokens, usage.GetProperty("completion_tokens").GetInt32());
        return usage.GetProperty("prompt_tokens").GetInt32();
    }
}
