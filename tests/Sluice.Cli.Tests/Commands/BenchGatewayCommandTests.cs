using System.Text.Json;
using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Commands;

/// <summary>`sluice bench gateway` briefly at a low rate, a real gateway child process included: the report's fields are
/// there and sane. No timing is asserted (the figures are taken later on a quiet machine).</summary>
public sealed class BenchGatewayCommandTests
{
    private static JsonElement RunJson(params string[] args)
    {
        var (rc, output, error) = CliRunner.Run(["bench", "gateway", "--json", .. args]);
        Assert.True(rc == 0, $"rc {rc}: {error}");
        Assert.Contains("sluice bench gateway: fake backend", error, StringComparison.Ordinal);
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private static void AssertPercentiles(JsonElement p, int count)
    {
        Assert.Equal(count, p.GetProperty("count").GetInt32());
        double p50 = p.GetProperty("p50_ms").GetDouble(), p99 = p.GetProperty("p99_ms").GetDouble(), p999 = p.GetProperty("p99_9_ms").GetDouble();
        Assert.True(p50 > 0 && p50 <= p99 && p99 <= p999, $"p50 {p50}, p99 {p99}, p99.9 {p999}");
    }

    [Fact]
    public void Whole_AtALowRate_ReportsBothSidesAddedLatencyCpuAndMemory()
    {
        var r = RunJson("--rate", "20", "--duration", "1s", "--warmup", "0");
        Assert.False(r.GetProperty("stream").GetBoolean());
        foreach (string side in new[] { "direct", "gateway" })
        {
            var s = r.GetProperty(side);
            Assert.Equal(20, s.GetProperty("requests").GetInt32());
            Assert.Equal(0, s.GetProperty("errors").GetInt32());
            Assert.True(s.GetProperty("achieved_rate").GetDouble() > 0);
            AssertPercentiles(s.GetProperty("latency"), 20);
            Assert.Equal(JsonValueKind.Null, s.GetProperty("ttft").ValueKind);
        }
        Assert.Equal("exact", r.GetProperty("pacing").GetString());
        var added = r.GetProperty("added_latency");
        Assert.Equal(JsonValueKind.Number, added.GetProperty("p50_ms").ValueKind);
        Assert.Equal(JsonValueKind.Number, added.GetProperty("p99_9_ms").ValueKind);
        Assert.True(r.GetProperty("gateway_cpu_ms_per_request").GetDouble() > 0);
        Assert.True(r.GetProperty("gateway_allocated_bytes_per_request").GetDouble() > 0);
        Assert.True(r.GetProperty("load_generator_cpu_ms_per_request").GetDouble() > 0);
        Assert.True(r.GetProperty("load_generator_cpu_ms_per_direct_request").GetDouble() > 0);
        long rss = r.GetProperty("gateway_rss_bytes").GetInt64();
        Assert.InRange(rss, 1 << 20, 1L << 36);
        Assert.True(r.GetProperty("gateway_peak_rss_bytes").GetInt64() >= rss);
        Assert.Equal(JsonValueKind.Null, r.GetProperty("max_rate").ValueKind);
        Assert.False(r.GetProperty("failed").GetBoolean());
    }

    [Fact]
    public void Stream_WithFindMax_ReportsAddedTtftInterChunkAndAMaximumRate()
    {
        var r = RunJson("--rate", "10", "--duration", "1s", "--warmup", "0", "--stream", "--chunks", "4", "--chunk-gap", "2ms",
            "--find-max", "--step-duration", "300ms", "--max-concurrency", "2");
        var g = r.GetProperty("gateway");
        Assert.Equal(0, g.GetProperty("errors").GetInt32());
        AssertPercentiles(g.GetProperty("ttft"), 10);
        AssertPercentiles(g.GetProperty("inter_chunk"), 10 * 4); // 4 text chunks and the usage chunk: 4 gaps each
        Assert.Equal(JsonValueKind.Number, r.GetProperty("added_ttft").GetProperty("p50_ms").ValueKind);
        Assert.Equal(JsonValueKind.Number, r.GetProperty("added_inter_chunk").GetProperty("p99_ms").ValueKind);
        var steps = r.GetProperty("max_rate_steps").EnumerateArray().ToList();
        Assert.InRange(steps.Count, 1, 2);
        Assert.Equal(1, steps[0].GetProperty("concurrency").GetInt32());
        Assert.True(r.GetProperty("max_rate").GetProperty("requests_per_s").GetDouble() > 0);
    }

    [Fact]
    public void Cache_Memory_EveryRequestAfterTheFirstIsAHit()
    {
        var r = RunJson("--rate", "20", "--duration", "1s", "--warmup", "0", "--cache", "memory");
        var cache = r.GetProperty("cache");
        Assert.Equal("memory", cache.GetProperty("store").GetString());
        Assert.Equal(20, cache.GetProperty("answers").GetInt32());
        Assert.InRange(cache.GetProperty("hits").GetInt32(), 10, 19); // the first (and any sent before it answered) is a miss
        Assert.True(cache.GetProperty("hits_per_s").GetDouble() > 0);
        AssertPercentiles(cache.GetProperty("hit_latency"), cache.GetProperty("hits").GetInt32());

        var (rc, _, error) = CliRunner.Run("bench", "gateway", "--cache", "redis");
        Assert.NotEqual(0, rc);
        Assert.Contains("--cache redis needs --cache-redis", error, StringComparison.Ordinal);
    }

    [Fact]
    public void GatewayConfig_IsTheOneMeasured_AndMustNameTheBackend()
    {
        string dir = Directory.CreateTempSubdirectory("sluice-bench-gw-test-").FullName;
        string good = Path.Combine(dir, "good.yaml");
        File.WriteAllText(good, "models:\n  - name: bench\n    deployments:\n      - {url: '{backend}', model: bench, kind: openai}\nretry: {max_attempts: 1}\n");
        var r = RunJson("--rate", "10", "--duration", "1s", "--warmup", "0", "--gateway-config", good, "--gateway-arg=--api-key=bench-key-123", "--api-key", "bench-key-123");
        Assert.Equal(good, r.GetProperty("gateway_config").GetString());
        Assert.Equal(0, r.GetProperty("gateway").GetProperty("errors").GetInt32());

        // the gateway wants a key the load generator does not send: every request through it fails, and the run says so
        var (rc, output, _) = CliRunner.Run("bench", "gateway", "--json", "--rate", "5", "--duration", "1s", "--warmup", "0", "--gateway-arg=--api-key=bench-key-123");
        Assert.Equal(1, rc);
        Assert.Equal(5, JsonDocument.Parse(output).RootElement.GetProperty("gateway").GetProperty("errors").GetInt32());

        string bad = Path.Combine(dir, "bad.yaml");
        File.WriteAllText(bad, "models:\n  - name: bench\n    deployments:\n      - {url: 'http://127.0.0.1:9', model: bench}\n");
        var (rc2, _, error) = CliRunner.Run("bench", "gateway", "--gateway-config", bad);
        Assert.Equal(2, rc2);
        Assert.Contains("write {backend} where its URL goes", error, StringComparison.Ordinal);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void VirtualKey_WithBudgetAndSpendOnSqlite_IsCreatedAndSentWithoutErrors()
    {
        string dir = Directory.CreateTempSubdirectory("sluice-bench-gw-key-").FullName;
        string config = Path.Combine(dir, "governed.yaml");
        File.WriteAllText(config, "models:\n  - name: bench\n    deployments:\n      - {url: '{backend}', model: bench, kind: openai, "
            + "input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}\ntenancy:\n  database: gateway.db\n");
        var r = RunJson("--rate", "10", "--duration", "1s", "--warmup", "0", "--gateway-config", config,
            "--virtual-key", """{"max_budget": 1000, "budget_duration": "30d", "rpm_limit": 100000}""");
        Assert.Equal(10, r.GetProperty("gateway").GetProperty("requests").GetInt32());
        Assert.Equal(0, r.GetProperty("gateway").GetProperty("errors").GetInt32());

        // a budget of 0 refuses every request: the key really is the one sent
        var (rc, output, _) = CliRunner.Run("bench", "gateway", "--json", "--rate", "5", "--duration", "1s", "--warmup", "0", "--gateway-config", config,
            "--virtual-key", """{"max_budget": 0}""");
        Assert.Equal(1, rc);
        Assert.Equal(5, JsonDocument.Parse(output).RootElement.GetProperty("gateway").GetProperty("errors").GetInt32());

        var (rc2, _, error) = CliRunner.Run("bench", "gateway", "--virtual-key", "{max_budget");
        Assert.Equal(2, rc2);
        Assert.Contains("--virtual-key is not JSON", error, StringComparison.Ordinal);
        Directory.Delete(dir, recursive: true);
    }

    [Theory]
    [InlineData("--rate", "0", "--rate")]
    [InlineData("--duration", "soon", "--duration")]
    [InlineData("--chunks", "0", "--chunks")]
    public void BadFlag_IsRefusedNamingIt(string flag, string value, string named)
    {
        var (rc, _, error) = CliRunner.Run("bench", "gateway", flag, value);
        Assert.Equal(2, rc);
        Assert.Contains(named, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Pacing_Timer_SendsEveryRequest_AnUnknownOneIsRefused()
    {
        var r = RunJson("--rate", "20", "--duration", "1s", "--warmup", "0", "--pacing", "timer");
        Assert.Equal("timer", r.GetProperty("pacing").GetString());
        Assert.Equal(20, r.GetProperty("gateway").GetProperty("requests").GetInt32());
        Assert.Equal(0, r.GetProperty("gateway").GetProperty("errors").GetInt32());

        var (rc, _, error) = CliRunner.Run("bench", "gateway", "--pacing", "poisson");
        Assert.NotEqual(0, rc);
        Assert.Contains("--pacing must be exact or timer, not 'poisson'", error, StringComparison.Ordinal);
    }
}
