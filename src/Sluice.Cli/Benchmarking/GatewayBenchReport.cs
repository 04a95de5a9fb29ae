using System.Globalization;
using System.Text.Json;

namespace Sluice.Cli.Benchmarking;

/// <summary>Percentiles of one distribution, in milliseconds (linear interpolation, as numpy's); null ones when it is empty.</summary>
internal sealed record Percentiles(int Count, double? P50, double? P99, double? P999)
{
    public static Percentiles Of(double[] sortedSeconds) => sortedSeconds.Length == 0 ? new(0, null, null, null)
        : new(sortedSeconds.Length, Ms(sortedSeconds, 50), Ms(sortedSeconds, 99), Ms(sortedSeconds, 99.9));

    private static double Ms(double[] sorted, double p) => LatencySummary.Percentile(sorted, p) * 1000;

    /// <summary>This one's percentiles minus <paramref name="baseline"/>'s: what the gateway adds at each.</summary>
    public Percentiles Minus(Percentiles baseline) => new(Count, P50 - baseline.P50, P99 - baseline.P99, P999 - baseline.P999);

    public Dictionary<string, object?> ToJson() => new()
    {
        ["count"] = Count,
        ["p50_ms"] = Round(P50),
        ["p99_ms"] = Round(P99),
        ["p99_9_ms"] = Round(P999),
    };

    public string ToText() => $"p50 {Fmt(P50)}  p99 {Fmt(P99)}  p99.9 {Fmt(P999)} ms";

    private static double? Round(double? v) => v is { } x ? Math.Round(x, 4) : null;

    private static string Fmt(double? v) => v is { } x ? x.ToString("0.000", CultureInfo.InvariantCulture) : "-";
}

/// <summary>One side of the comparison: requests, errors, the rate achieved, latency and, for streams, TTFT and inter-chunk gaps.</summary>
internal sealed record PhaseSummary(int Requests, int Errors, double AchievedRate, Percentiles Latency, Percentiles? Ttft, Percentiles? InterChunk)
{
    public static PhaseSummary From(BenchPhase phase, bool stream) => new(phase.Samples.Count, phase.Errors, phase.Samples.Count / Math.Max(phase.Seconds, 1e-9),
        Percentiles.Of(phase.Sorted(s => [s.Latency])),
        stream ? Percentiles.Of(phase.Sorted(s => [s.Ttft])) : null,
        stream ? Percentiles.Of(phase.Sorted(s => s.Gaps)) : null);

    public Dictionary<string, object?> ToJson() => new()
    {
        ["requests"] = Requests,
        ["errors"] = Errors,
        ["achieved_rate"] = Math.Round(AchievedRate, 2),
        ["latency"] = Latency.ToJson(),
        ["ttft"] = Ttft?.ToJson(),
        ["inter_chunk"] = InterChunk?.ToJson(),
    };
}

/// <summary>--cache: the answers through the gateway that came from its response cache, their rate over the phase and their latency.</summary>
internal sealed record CacheSummary(string Store, int Hits, int Answers, double HitsPerSecond, Percentiles HitLatency)
{
    public static CacheSummary From(string store, BenchPhase phase) => new(store, phase.Samples.Count(s => s.Ok && s.Hit), phase.Samples.Count(s => s.Ok),
        phase.Samples.Count(s => s.Ok && s.Hit) / Math.Max(phase.Seconds, 1e-9), Percentiles.Of([.. phase.Samples.Where(s => s.Ok && s.Hit).Select(s => s.Latency).Order()]));

    public Dictionary<string, object?> ToJson() => new()
    {
        ["store"] = Store,
        ["hits"] = Hits,
        ["answers"] = Answers,
        ["hits_per_s"] = Math.Round(HitsPerSecond, 1),
        ["hit_latency"] = HitLatency.ToJson(),
    };
}

/// <summary>What the measured phases cost in CPU and memory: the gateway's CPU time and managed allocations over the phase
/// through it (allocations null when its /metrics could not be read), the bench process's own CPU time (load generator and
/// fake backend) over each phase, and the gateway's resident memory.</summary>
internal sealed record GatewayCost(TimeSpan GatewayCpu, double? GatewayAllocatedBytes, TimeSpan OwnCpu, TimeSpan OwnCpuDirect, long Rss, long PeakRss);

/// <summary>`sluice bench gateway`'s report: both sides, what the gateway adds, its CPU and allocations per request and
/// memory, the load generator's own CPU per request, the maximum rate.</summary>
internal sealed record GatewayBenchReport(GatewayBenchSettings Settings, PhaseSummary Direct, PhaseSummary Gateway, double CpuMsPerRequest,
    long RssBytes, long PeakRssBytes, IReadOnlyList<GatewayBench.MaxStep> MaxSteps, CacheSummary? Cache = null)
{
    /// <summary>The gateway's managed allocations per request through it; null when not read.</summary>
    public double? AllocatedBytesPerRequest { get; init; }

    /// <summary>The bench process's CPU (load generator and fake backend) per request through the gateway, and per direct request.</summary>
    public double LoadGeneratorCpuMsPerRequest { get; init; }

    public double LoadGeneratorCpuMsPerDirectRequest { get; init; }

    public Percentiles AddedLatency => Gateway.Latency.Minus(Direct.Latency);
    public Percentiles? AddedTtft => Gateway.Ttft is { } g && Direct.Ttft is { } d ? g.Minus(d) : null;
    public Percentiles? AddedInterChunk => Gateway.InterChunk is { } g && Direct.InterChunk is { } d ? g.Minus(d) : null;
    public GatewayBench.MaxStep? Max => MaxSteps.Where(s => s.Errors == 0).MaxBy(s => s.RequestsPerSecond);

    /// <summary>Exit 1 when a request failed on either side.</summary>
    public bool Failed => Direct.Errors + Gateway.Errors > 0;

    public static GatewayBenchReport From(GatewayBenchSettings settings, BenchPhase direct, BenchPhase gateway, GatewayCost cost,
        IReadOnlyList<GatewayBench.MaxStep> steps)
    {
        double Per(double total, int count) => count == 0 ? 0 : total / count;
        return new(settings, PhaseSummary.From(direct, settings.Stream), PhaseSummary.From(gateway, settings.Stream),
            Per(cost.GatewayCpu.TotalMilliseconds, gateway.Samples.Count), cost.Rss, cost.PeakRss, steps,
            settings.Cache is { } store ? CacheSummary.From(store, gateway) : null)
        {
            AllocatedBytesPerRequest = cost.GatewayAllocatedBytes is { } bytes ? Per(bytes, gateway.Samples.Count) : null,
            LoadGeneratorCpuMsPerRequest = Per(cost.OwnCpu.TotalMilliseconds, gateway.Samples.Count),
            LoadGeneratorCpuMsPerDirectRequest = Per(cost.OwnCpuDirect.TotalMilliseconds, direct.Samples.Count),
        };
    }

    public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["rate"] = Settings.Rate,
        ["duration_s"] = Settings.Duration.TotalSeconds,
        ["warmup_s"] = Settings.Warmup.TotalSeconds,
        ["pacing"] = Settings.TimerPacing ? "timer" : "exact",
        ["stream"] = Settings.Stream,
        ["chunks"] = Settings.Stream ? Settings.Chunks : null,
        ["chunk_gap_ms"] = Settings.Stream ? Settings.ChunkGap.TotalMilliseconds : null,
        ["gateway_config"] = Settings.GatewayConfig,
        ["cores"] = Environment.ProcessorCount,
        ["shared_machine"] = "load generator, fake backend and gateway ran on this one machine",
        ["direct"] = Direct.ToJson(),
        ["gateway"] = Gateway.ToJson(),
        ["added_latency"] = AddedLatency.ToJson(),
        ["added_ttft"] = AddedTtft?.ToJson(),
        ["added_inter_chunk"] = AddedInterChunk?.ToJson(),
        ["gateway_cpu_ms_per_request"] = Math.Round(CpuMsPerRequest, 5),
        ["gateway_allocated_bytes_per_request"] = AllocatedBytesPerRequest is { } a ? Math.Round(a) : null,
        ["load_generator_cpu_ms_per_request"] = Math.Round(LoadGeneratorCpuMsPerRequest, 5),
        ["load_generator_cpu_ms_per_direct_request"] = Math.Round(LoadGeneratorCpuMsPerDirectRequest, 5),
        ["gateway_rss_bytes"] = RssBytes,
        ["gateway_peak_rss_bytes"] = PeakRssBytes,
        ["cache"] = Cache?.ToJson(),
        ["max_rate"] = Max is { } m ? new Dictionary<string, object?>
        {
            ["requests_per_s"] = Math.Round(m.RequestsPerSecond, 1),
            ["concurrency"] = m.Concurrency,
            ["cache_hits_per_s"] = Cache is null ? null : Math.Round(m.HitsPerSecond, 1),
        } : null,
        ["max_rate_steps"] = MaxSteps.Count == 0 ? null : MaxSteps.Select(s => new Dictionary<string, object>
        {
            ["concurrency"] = s.Concurrency,
            ["requests_per_s"] = Math.Round(s.RequestsPerSecond, 1),
            ["errors"] = s.Errors,
        }).ToList(),
        ["failed"] = Failed,
    });

    public string ToText()
    {
        var w = new StringWriter(CultureInfo.InvariantCulture);
        void Line(string label, string value) => w.WriteLine($"{label,-30}{value}");
        w.WriteLine("============== Gateway Benchmark Result ==============");
        Line("Load:", $"{Settings.Rate:0.##} requests/s open loop ({(Settings.TimerPacing ? "timer" : "exact")} pacing), {Settings.Duration.TotalSeconds:0.###} s each way{(Settings.Stream ? $", streamed ({Settings.Chunks} chunks {Settings.ChunkGap.TotalMilliseconds:0.###} ms apart)" : "")}");
        Line("Machine:", $"{Environment.ProcessorCount} cores, shared by the load generator, fake backend and gateway");
        Line("Direct:", $"{Direct.Requests} requests, {Direct.Errors} errors, {Direct.AchievedRate:0.#}/s; {Direct.Latency.ToText()}");
        Line("Through the gateway:", $"{Gateway.Requests} requests, {Gateway.Errors} errors, {Gateway.AchievedRate:0.#}/s; {Gateway.Latency.ToText()}");
        Line("Added latency:", AddedLatency.ToText());
        if (AddedTtft is { } ttft)
        {
            Line("Added TTFT:", ttft.ToText());
        }
        if (AddedInterChunk is { } gap)
        {
            Line("Added inter-chunk delay:", gap.ToText());
        }
        Line("Gateway CPU per request:", $"{CpuMsPerRequest * 1000:0.#} µs");
        Line("Gateway allocated/request:", AllocatedBytesPerRequest is { } allocated ? $"{allocated / 1024:0.0} KiB" : "not read (its /metrics needs a key: --api-key)");
        Line("Bench CPU per request:", $"{LoadGeneratorCpuMsPerRequest * 1000:0.#} µs through the gateway, {LoadGeneratorCpuMsPerDirectRequest * 1000:0.#} µs direct (load generator and fake backend)");
        Line("Gateway RSS:", $"{RssBytes / 1048576.0:0.0} MiB (peak {PeakRssBytes / 1048576.0:0.0} MiB)");
        if (Cache is { } cache)
        {
            Line("Cache hits:", $"{cache.Hits} of {cache.Answers} answers ({cache.Store}), {cache.HitsPerSecond:0.#}/s; {cache.HitLatency.ToText()}");
        }
        if (Max is { } max)
        {
            Line("Max rate (closed loop):", $"{max.RequestsPerSecond:0} requests/s at {max.Concurrency} clients, no errors"
                + (Cache is null ? "" : $"; {max.HitsPerSecond:0} cache hits/s"));
        }
        else if (MaxSteps.Count > 0)
        {
            Line("Max rate (closed loop):", "every step had errors");
        }
        return w.ToString();
    }
}
