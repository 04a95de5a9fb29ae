using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Sluice.Engine.Serving;
using Sluice.Server.Observability;
using Sluice.Server.Tests.Support;
using Xunit.Abstractions;

namespace Sluice.Server.Tests.Fuzzing;

/// <summary>
/// Random and mutated requests at every route of one server with small limits (8 sequences, 8 queued, a 512-token
/// context, a 256 KiB body limit), so every limit is crossed. Each run is reproducible from its seed: the report
/// names the seed, each failure class's first request (index, body) and the command that replays it.
/// Set SLUICE_FUZZ_SEED to fuzz with another seed; SLUICE_FUZZ_INDEX (with SLUICE_FUZZ_MIX) to replay requests.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int DefaultSeed = 20250101;
    // generous: a request may queue behind 16 others of up to n = 8 x 512 tokens, and CI machines are slow and shared;
    // a request the server never finishes still counts as a hang
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(120);

    private static EngineOptions Engine => TestServer.DefaultEngine with { MaxNumSeqs = 8, MaxNumBatchedTokens = 256, MaxModelLen = 512, KvCacheMemory = 1 << 20 };

    private static ServerOptions Options => new() { MaxNumQueuedReqs = 8, MaxRequestBodySize = 256 << 10 };

    [Fact]
    public Task Fuzz_RandomRequestsAtEveryRoute_NoServerErrorsHangsOrLeaks() =>
        FuzzAsync(Seed(), FuzzMix.Everything, maxRequests: 10_000, budget: TimeSpan.FromSeconds(40), concurrency: 20);

    [Fact]
    public Task Fuzz_ConcurrentRequestsWithNAboveOne_EngineStaysWithinMaxNumSeqs() =>
        FuzzAsync(Seed(), FuzzMix.NBursts, maxRequests: 1500, budget: TimeSpan.FromSeconds(10), concurrency: 20);

    /// <summary>
    /// Replays a seed one group at a time: SLUICE_FUZZ_SEED (default the suite's), SLUICE_FUZZ_MIX (everything or
    /// nbursts) and SLUICE_FUZZ_INDEX (comma-separated request indices; default the seed's first 150 requests).
    /// </summary>
    [Fact]
    public Task Fuzz_ReplaySeed_OneGroupAtATime_SameChecks()
    {
        var mix = Environment.GetEnvironmentVariable("SLUICE_FUZZ_MIX") is { } m && m.Equals("nbursts", StringComparison.OrdinalIgnoreCase) ? FuzzMix.NBursts : FuzzMix.Everything;
        var indices = Environment.GetEnvironmentVariable("SLUICE_FUZZ_INDEX") is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToHashSet()
            : [.. Enumerable.Range(0, 150)];
        return FuzzAsync(Seed(), mix, maxRequests: indices.Max() + 64, budget: TimeSpan.FromSeconds(20), concurrency: 1, only: indices);
    }

    private static int Seed() =>
        Environment.GetEnvironmentVariable("SLUICE_FUZZ_SEED") is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : DefaultSeed;

    private async Task FuzzAsync(int seed, FuzzMix mix, int maxRequests, TimeSpan budget, int concurrency, IReadOnlySet<int>? only = null)
    {
        var engine = Engine;
        var options = Options;
        var log = new ServerLog();
        var hooks = SluiceObservability.Hooks(new ObservabilityOptions()) with { Logging = b => b.AddProvider(log) };
        await using var t = await TestServer.StartAsync(options, engine, hooks: hooks);
        var target = HttpFuzzer.TargetOf(t, engine, options);
        string replay = $"SLUICE_FUZZ_SEED={seed} SLUICE_FUZZ_MIX={mix} SLUICE_FUZZ_INDEX={{0}} dotnet test tests/Sluice.Server.Tests -c Release --filter \"FullyQualifiedName~Fuzz_ReplaySeed\"";
        var findings = new FuzzFindings(seed, log, replay);

        await WarmUpAsync(t);
        await t.WaitForAllBlocksFreeAsync();
        long baseline = ManagedMemory();

        var watch = Stopwatch.StartNew();
        string journal = Path.Combine(Path.GetTempPath(), $"sluice-fuzz-{seed}-{mix}-{Environment.ProcessId}.log");
        using (var fuzzer = new HttpFuzzer(t, engine, findings, RequestTimeout, journal))
        {
            await fuzzer.RunAsync(new RequestGenerator(target, seed, mix), maxRequests, budget, concurrency, only);
            output.WriteLine($"sent {fuzzer.Sent} requests in {watch.Elapsed.TotalSeconds:F1} s; the engine ran at most {fuzzer.MaxRunningSeen} sequences at once (--max-num-seqs {engine.MaxNumSeqs})");
        }
        File.Delete(journal); // the process lived: the report below says everything the journal would

        await CheckIdleAsync(t, findings);
        await CheckServingAsync(t, findings);
        long after = ManagedMemory();
        output.WriteLine($"managed memory: {baseline >> 20} MiB before, {after >> 20} MiB after");
        if (after - baseline > 32 << 20)
        {
            findings.Add($"managed memory grew from {baseline >> 20} MiB to {after >> 20} MiB over the run", "");
        }
        foreach (var e in log.Entries.Where(e => e.Level >= LogLevel.Critical))
        {
            findings.Add($"the server logged {e.Level}: {e.Category}: {FuzzFindings.Normalize(e.Message)}", e.Exception ?? e.Message);
        }

        string report = findings.Report($"{mix} fuzzing, {watch.Elapsed.TotalSeconds:F1} s, concurrency {concurrency}, target {target}");
        output.WriteLine(report);
        Assert.False(findings.Any, report);
    }

    /// <summary>A few valid requests at every route first, so the baseline includes what the first requests allocate for good.</summary>
    private static async Task WarmUpAsync(TestServer t)
    {
        string[] bodies =
        [
            """{"prompt": "warm up", "max_tokens": 4}""",
            """{"prompt": "warm up", "max_tokens": 4, "stream": true, "stream_options": {"include_usage": true}}""",
            """{"prompt": "warm up", "max_tokens": 4, "n": 2, "logprobs": 2}""",
        ];
        foreach (var body in bodies)
        {
            (await t.PostAsync("/v1/completions", body)).EnsureSuccessStatusCode();
        }
        (await t.PostAsync("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "stream": true}""")).EnsureSuccessStatusCode();
        (await t.PostAsync("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "logprobs": true, "top_logprobs": 2}""")).EnsureSuccessStatusCode();
        (await t.PostAsync("/tokenize", """{"prompt": "hi"}""")).EnsureSuccessStatusCode();
        (await t.PostAsync("/detokenize", """{"tokens": [1, 2]}""")).EnsureSuccessStatusCode();
        (await t.PostAsync("/v1/predict", """{"text": "hi", "max_tokens": 2}""")).EnsureSuccessStatusCode();
        (await t.PostAsync("/v1/completions", """{"prompt": 5}""")).Dispose();
        foreach (var path in new[] { "/v1/models", "/health", "/health/live", "/health/ready", "/version", "/metrics" })
        {
            (await t.Client.GetAsync(path)).EnsureSuccessStatusCode();
        }
    }

    /// <summary>After the run every gauge must be back at idle: no sequence running or waiting, every KV block free, nothing admitted.</summary>
    private static async Task CheckIdleAsync(TestServer t, FuzzFindings findings)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var s = t.Engine.Stats;
            var admission = t.Server.Serving.Admission;
            if (s.Running == 0 && s.Waiting == 0 && s.KvBlocksFree == s.KvBlocksTotal && admission.InFlight == 0 && admission.PrefillTokens == 0)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                findings.Add($"not idle 30 s after the run: running {s.Running}, waiting {s.Waiting}, KV blocks free {s.KvBlocksFree}/{s.KvBlocksTotal}, " +
                    $"admission in flight {admission.InFlight}, prefill tokens {admission.PrefillTokens}", "");
                return;
            }
            await Task.Delay(50);
        }
    }

    /// <summary>The server is alive and still serves a plain request correctly.</summary>
    private static async Task CheckServingAsync(TestServer t, FuzzFindings findings)
    {
        try
        {
            using var live = await t.Client.GetAsync("/health/live");
            var (status, body, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "still there?", "max_tokens": 3, "n": 2}""");
            if (!live.IsSuccessStatusCode || status != 200 || body.GetProperty("choices").GetArrayLength() != 2)
            {
                findings.Add($"after the run: /health/live {(int)live.StatusCode}, a plain completion {status}", body.ToString());
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            findings.Add($"after the run the server no longer answers: {ex.GetType().Name}: {ex.Message}", "");
        }
    }

    private static long ManagedMemory()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}

/// <summary>
/// The fuzz runs alone: its load would slow tests that bound their own time, and the managed-memory check reads the
/// whole process's heap, which tests running beside it would grow.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzCollection
{
    public const string Name = "Fuzzing";
}
