using System.Text.Json;
using Sluice.Cli.Tests.Support;
using Sluice.Engine.Serving;
using Sluice.Server;

namespace Sluice.Cli.Tests.Diagnosis;

/// <summary>`sluice doctor` against real servers driven into each condition the runbooks name, and a healthy one.</summary>
public sealed class DoctorTests(DoctorFixture model) : IClassFixture<DoctorFixture>
{
    private static Task<(int Rc, string Output, string Error)> DoctorAsync(SluiceServer server, params string[] extra) =>
        Task.Run(() => CliRunner.Run(["doctor", "--url", server.Addresses[0].ToString(), "--window", "1.5", .. extra]));

    private static List<JsonElement> Findings(string json) =>
        [.. JsonDocument.Parse(json).RootElement.GetProperty("findings").EnumerateArray()];

    private static string Completion(string prompt, int maxTokens) =>
        $$"""{"prompt": "{{prompt}}", "max_tokens": {{maxTokens}}, "temperature": 0, "ignore_eos": true}""";

    [Fact]
    public async Task HealthyServer_UnderLightLoad_IsReportedHealthy()
    {
        await using var server = await model.StartAsync(new EngineOptions { MaxNumSeqs = 8, KvCacheMemory = 8 << 20 });
        await using var load = new Workload(server.Addresses[0], 1, _ => Completion("a light request", 8));
        await load.WarmAsync(2);
        var (rc, output, error) = await DoctorAsync(server, "--json");
        Assert.True(rc == 0, output + error);
        var report = JsonDocument.Parse(output).RootElement;
        Assert.True(report.GetProperty("healthy").GetBoolean());
        Assert.Equal("ready", report.GetProperty("state").GetString());
        Assert.Equal("healthy", Findings(output).Single().GetProperty("symptom").GetString());
        Assert.True(report.GetProperty("numbers").GetProperty("requests").GetDouble() > 0);
        Assert.Equal(0, report.GetProperty("numbers").GetProperty("errors").GetDouble());
    }

    [Fact]
    public async Task TinyKvBudget_IsDiagnosedAsKvPressure_WithPreemptions()
    {
        await using var server = await model.StartAsync(new EngineOptions { MaxNumSeqs = 8, KvCacheMemory = 24 * DoctorFixture.BytesPerKvBlock });
        await using var load = new Workload(server.Addresses[0], 8, n => Completion($"request {n} wants many blocks", 300));
        await load.WarmAsync(8);
        var (rc, output, _) = await DoctorAsync(server);
        Assert.Equal(1, rc);
        Assert.Contains("DIAGNOSIS: KV cache pressure: preemptions  [warning]", output);
        Assert.Matches(@"\d+ preemptions in [\d.]+ s", output);
        Assert.Contains("raise --kv-cache-memory (now 96 KiB)", output);
        Assert.Contains("lower --max-num-seqs (now 8)", output);
        Assert.Contains("runbook:  docs/runbooks/kv-cache.md", output);
    }

    [Fact]
    public async Task BurstOverMaxNumSeqs_IsDiagnosedAsQueueing()
    {
        await using var server = await model.StartAsync(new EngineOptions { MaxNumSeqs = 2, KvCacheMemory = 8 << 20 });
        await using var load = new Workload(server.Addresses[0], 12, n => Completion($"burst {n}", 500));
        await load.WarmAsync(12);
        var (rc, output, _) = await DoctorAsync(server, "--json", "--ttft-target", "0.05");
        Assert.True(rc == 1, output);
        var queueing = Findings(output).Single(f => f.GetProperty("symptom").GetString() == "queueing");
        Assert.Equal("docs/runbooks/queueing.md", queueing.GetProperty("runbook").GetString());
        string evidence = string.Join('\n', queueing.GetProperty("evidence").EnumerateArray().Select(e => e.GetString()));
        Assert.Matches(@"of which queue [\d.]+ s \((9\d|100|[5-8]\d)%\)", evidence);
        Assert.Contains("running of --max-num-seqs 2", evidence);
        Assert.Contains(queueing.GetProperty("levers").EnumerateArray(), l => l.GetString()!.StartsWith("add replicas", StringComparison.Ordinal));
        Assert.DoesNotContain(Findings(output), f => f.GetProperty("symptom").GetString() == "long_prefill");
    }

    [Fact]
    public async Task LongPrompts_AreDiagnosedAsPrefillBoundTtft()
    {
        await using var server = await model.StartAsync(new EngineOptions { MaxNumSeqs = 4, MaxNumBatchedTokens = 32, KvCacheMemory = 16 << 20 });
        var random = new Random(5);
        await using var load = new Workload(server.Addresses[0], 1, _ =>
            Completion(new string([.. Enumerable.Range(0, 1500).Select(_ => (char)('a' + random.Next(26)))]), 1));
        await load.WarmAsync(2);
        var (rc, output, _) = await DoctorAsync(server, "--ttft-target", "0.005");
        Assert.Equal(1, rc);
        Assert.Contains("DIAGNOSIS: high TTFT from long prefill  [warning]", output);
        Assert.Matches(@"mean prompt 1\d{3} tokens; --max-num-batched-tokens 32 per step", output);
        Assert.Contains("raise --max-num-batched-tokens (now 32)", output);
        Assert.Contains("docs/runbooks/latency.md#ttft-from-long-prefill", output);
        Assert.DoesNotContain("from queueing", output);
    }

    [Fact]
    public async Task BadRequests_AreDiagnosedAsAnErrorBurst_ByKind()
    {
        await using var server = await model.StartAsync(new EngineOptions { MaxNumSeqs = 4, MaxModelLen = 256, KvCacheMemory = 8 << 20 });
        await using var load = new Workload(server.Addresses[0], 2, n => (n % 3) switch
        {
            0 => "{not json",
            1 => Completion(new string('x', 400), 4),
            _ => Completion("fine", 2),
        });
        await load.WarmAsync(6);
        var (rc, output, _) = await DoctorAsync(server);
        Assert.Equal(1, rc);
        Assert.Contains("DIAGNOSIS: error burst (client errors)  [warning]", output);
        Assert.Matches(@"invalid_request: \d+", output);
        Assert.Matches(@"too_long: \d+", output);
        Assert.Contains("prompts exceed --max-model-len (256)", output);
        Assert.Contains("docs/runbooks/error-rate.md", output);
    }

    [Fact]
    public async Task LoadingServer_IsDiagnosedAsNotReady()
    {
        var gate = new ManualResetEventSlim();
        await using var server = await model.StartAsync(new EngineOptions { KvCacheMemory = 8 << 20 }, () =>
        {
            gate.Wait();
            return Engine.Models.ModelLoader.Load(model.ModelPath);
        });
        try
        {
            var (rc, output, _) = await Task.Run(() => CliRunner.Run("doctor", "--url", server.Addresses[0].ToString(), "--window", "0.2"));
            Assert.Equal(1, rc);
            Assert.Contains("DIAGNOSIS: model not ready  [critical]", output);
            Assert.Contains("/health: unhealthy, state loading", output);
            Assert.Contains("docs/runbooks/down.md#not-ready", output);
        }
        finally
        {
            gate.Set();
        }
    }

    [Fact]
    public void NoServer_ExitsTwo_PointingAtTheDownRunbook()
    {
        var (rc, _, error) = CliRunner.Run("doctor", "--url", "http://127.0.0.1:9", "--window", "0.1");
        Assert.Equal(2, rc);
        Assert.Contains("docs/runbooks/down.md", error);
    }
}
