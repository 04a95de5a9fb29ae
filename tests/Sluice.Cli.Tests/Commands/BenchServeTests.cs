using System.Text.Json;
using Sluice.Cli.Benchmarking;
using Sluice.Cli.Tests.Support;
using Sluice.Engine.Models;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;
using Sluice.Engine.Serving;
using Sluice.Server;

namespace Sluice.Cli.Tests.Commands;

public sealed class BenchServeTests
{
    private static string TinyModel()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sluice-cli-bench-{Environment.ProcessId}.gguf");
        if (!File.Exists(path))
        {
            var shape = ModelShape.Tiny with { Name = "bench", EmbeddingLength = 64, BlockCount = 2, HeadCount = 4, HeadCountKv = 2, FeedForwardLength = 128, ContextLength = 512, VocabSize = null, Tied = true };
            ModelSynthesizer.Write(new SynthesisOptions(shape, WeightMix.F16, SynthVocabulary.Bytes()) { Seed = 3 }, path);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
        }
        return path;
    }

    [Fact]
    public async Task BenchServe_CompareJsonSchema_RunsEachConcurrencyFreeThenConstrained()
    {
        string model = TinyModel();
        await using var server = SluiceServer.Create(new ServerOptions { Port = 0, Warmup = false },
            new EngineOptions { MaxNumSeqs = 4, KvCacheMemory = 4 << 20, Threads = 1 }, () => ModelLoader.Load(model), new ServerHooks { Logging = _ => { } });
        await server.StartAsync();
        await server.Host.Settled;
        string url = server.Addresses[0].ToString();

        var (rc, output, error) = await Task.Run(() => CliRunner.Run("bench", "serve", "--url", url, "--num-prompts", "2", "--input-len", "4",
            "--output-len", "6", "--json-schema", "builtin", "--compare-json-schema", "1,2", "--endpoint", "/v1/chat/completions", "--json"));
        Assert.True(rc == 0, error);
        using var doc = JsonDocument.Parse(output);
        var rows = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal([1, 2], rows.Select(r => r.GetProperty("concurrency").GetInt32()));
        foreach (var row in rows)
        {
            Assert.Equal(0, row.GetProperty("free").GetProperty("errors").GetInt32());
            Assert.Equal(12, row.GetProperty("free").GetProperty("output_tokens").GetInt64());
            Assert.Equal(0, row.GetProperty("json_schema").GetProperty("errors").GetInt32());
            Assert.True(row.GetProperty("json_schema").GetProperty("output_tokens").GetInt64() > 0);
        }

        // the schema really travels: one the server refuses fails every constrained request, and none of the free ones
        string bad = Path.Combine(Path.GetTempPath(), $"sluice-bench-bad-schema-{Environment.ProcessId}.json");
        File.WriteAllText(bad, """{"type":"string","format":"hostname"}""");
        try
        {
            var (rc2, output2, error2) = await Task.Run(() => CliRunner.Run("bench", "serve", "--url", url, "--num-prompts", "2", "--input-len", "4",
                "--output-len", "3", "--json-schema", bad, "--compare-json-schema", "1", "--json"));
            Assert.Equal(1, rc2);
            Assert.Contains("hostname", error2);
            using var doc2 = JsonDocument.Parse(output2);
            var row = doc2.RootElement[0];
            Assert.Equal(0, row.GetProperty("free").GetProperty("errors").GetInt32());
            Assert.Equal(2, row.GetProperty("json_schema").GetProperty("errors").GetInt32());
        }
        finally
        {
            File.Delete(bad);
        }

        var (rc3, _, error3) = await Task.Run(() => CliRunner.Run("bench", "serve", "--url", url, "--compare-json-schema", "1,16"));
        Assert.Equal(2, rc3);
        Assert.Contains("--json-schema", error3);
    }

    [Fact]
    public async Task BenchServe_AgainstARealServer_PrintsTheJsonFigures()
    {
        string model = TinyModel();
        await using var server = SluiceServer.Create(new ServerOptions { Port = 0, Warmup = false },
            new EngineOptions { MaxNumSeqs = 4, KvCacheMemory = 4 << 20, Threads = 1 }, () => ModelLoader.Load(model), new ServerHooks { Logging = _ => { } });
        await server.StartAsync();
        await server.Host.Settled;
        string url = server.Addresses[0].ToString();

        var (rc, output, error) = await Task.Run(() => CliRunner.Run("bench", "serve", "--url", url, "--concurrency", "2", "--num-prompts", "6",
            "--input-len", "16", "--output-len", "8", "--json"));
        Assert.True(rc == 0, error);
        Assert.Contains("6/6 requests", error);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement;
        Assert.Equal(6, r.GetProperty("completed").GetInt32());
        Assert.Equal(0, r.GetProperty("errors").GetInt32());
        Assert.Equal(48, r.GetProperty("output_tokens").GetInt64());
        Assert.True(r.GetProperty("output_tokens_per_s").GetDouble() > 0);
        Assert.True(r.GetProperty("requests_per_s").GetDouble() > 0);
        foreach (var key in new[] { "ttft_ms", "tpot_ms", "itl_ms", "e2e_ms" })
        {
            var s = r.GetProperty(key);
            Assert.True(s.GetProperty("p50").GetDouble() <= s.GetProperty("p99").GetDouble(), key);
            Assert.True(s.GetProperty("mean").GetDouble() > 0, key);
        }
        Assert.True(r.GetProperty("e2e_ms").GetProperty("mean").GetDouble() >= r.GetProperty("ttft_ms").GetProperty("mean").GetDouble());

        var (rc2, text, _) = await Task.Run(() => CliRunner.Run("bench", "serve", "--url", url, "--num-prompts", "2", "--input-len", "4", "--output-len", "3",
            "--endpoint", "/v1/chat/completions"));
        Assert.Equal(0, rc2);
        Assert.Contains("Output token throughput (tok/s):", text);
        Assert.Contains("P99 ITL (ms):", text);
    }

    [Fact]
    public void BenchServe_AgainstNothing_CountsErrorsAndFails()
    {
        var (rc, _, error) = CliRunner.Run("bench", "serve", "--url", "http://127.0.0.1:9", "--model", "m", "--num-prompts", "2");
        Assert.Equal(1, rc);
        Assert.Contains("error:", error);
    }

    [Theory]
    [InlineData(new double[] { 1, 2, 3, 4 }, 50, 2.5)]
    [InlineData(new double[] { 1, 2, 3, 4 }, 99, 3.97)]
    [InlineData(new double[] { 7 }, 90, 7)]
    public void Percentiles_InterpolateLikeNumpy(double[] sorted, double p, double expected) =>
        Assert.Equal(expected, LatencySummary.Percentile(sorted, p), 6);
}
