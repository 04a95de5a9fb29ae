using System.Globalization;

namespace Sluice.Cli.Diagnosis;

/// <summary>
/// From two scrapes and /health, the split every inference runbook starts with: not ready, errors, KV
/// pressure, TTFT from queueing or from prefill, slow decode, low batch occupancy — or healthy. Each finding
/// quotes its numbers and names its levers and runbook (docs/runbooks/).
/// </summary>
internal static class Diagnoser
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static IReadOnlyList<Finding> Diagnose(DoctorNumbers n, HealthInfo health, DoctorThresholds t)
    {
        var findings = new List<Finding>();
        if (!health.Healthy)
        {
            findings.Add(NotReady(health));
        }
        if (n.Errors >= t.MinErrors && n.ErrorRate >= t.ErrorRate)
        {
            findings.Add(ErrorBurst(n));
        }
        if (n.Preemptions > 0 || n.KvUsageMax >= t.KvUsage)
        {
            findings.Add(KvPressure(n, t));
        }
        bool slowFirstToken = n.TtftMean > t.TtftSeconds;
        bool queueDominates = (n.QueueMean ?? 0) >= (n.PrefillMean ?? 0);
        if ((slowFirstToken && queueDominates) || (n.WaitingMin > 0 && n.Preemptions == 0 && (n.QueueMean is null || queueDominates)))
        {
            findings.Add(Queueing(n));
        }
        else if (slowFirstToken)
        {
            findings.Add(LongPrefill(n));
        }
        if (n.ItlMean > t.ItlSeconds)
        {
            findings.Add(SlowDecode(n));
        }
        if (n.MeanBatchSequences is { } batch && n.MaxNumSeqs > 0 && batch < t.LowOccupancy * n.MaxNumSeqs && n.WaitingMin > 0)
        {
            findings.Add(LowOccupancy(n, batch));
        }
        if (findings.Count == 0)
        {
            findings.Add(Healthy(n));
        }
        return findings;
    }

    private static Finding NotReady(HealthInfo h) => new("model_not_ready", "model not ready", Severity.Critical,
        [$"/health: unhealthy, state {h.State}" + (h.Reason is { } r ? $" ({r})" : "")],
        h.State switch
        {
            "loading" or "warming_up" => ["wait for the load to finish (sluice_model_load_seconds of earlier starts says how long it takes); keep traffic off until /health/ready passes"],
            "failed" => ["read the load error in /health and the log; check the file: sluice model verify FILE --sha256 HEX", "fix the model path or file and restart"],
            "draining" or "stopped" => ["the server is shutting down (SIGTERM): in-flight requests finish within --shutdown-timeout; send traffic to other replicas"],
            _ => ["the engine loop is stalled: capture a dump (dotnet-dump collect -p PID) and restart the replica"],
        },
        "docs/runbooks/down.md#not-ready");

    private static Finding ErrorBurst(DoctorNumbers n)
    {
        var serverKinds = new HashSet<string> { "internal", "timeout", "aborted", "not_ready", "draining" };
        bool server = n.ErrorsByKind.Keys.Any(serverKinds.Contains);
        var evidence = new List<string>
        {
            F($"{n.Errors:0} of {n.Requests:0} requests failed in {n.WindowSeconds:0.#} s ({Pct(n.ErrorRate)})"),
        };
        evidence.AddRange(n.ErrorsByKind.OrderByDescending(k => k.Value).Select(k => F($"{k.Key}: {k.Value:0}")));
        var levers = new List<string>();
        foreach (var kind in n.ErrorsByKind.Keys)
        {
            string? lever = kind switch
            {
                "invalid_request" => "invalid_request: a client sends bad requests; find it by request id in the log (--log-format json) and fix the client",
                "too_long" => F($"too_long: prompts exceed --max-model-len ({n.MaxModelLen:0}); have clients truncate, or raise --max-model-len if the KV cache allows"),
                "model_not_found" => "model_not_found: clients ask for another model name; add it with --served-model-name or fix the clients",
                "unauthorized" => "unauthorized: clients use a wrong or expired key; check --api-key-file rotation and its grace period",
                "body_too_large" => "body_too_large: raise --max-request-body-size if such bodies are legitimate",
                "unknown_route" => "unknown_route: clients call paths this server does not have (a base URL missing /v1?)",
                "queue_full" or "queued_tokens_full" => "queue_full: load above capacity: add replicas (see queueing)",
                "timeout" => "timeout: requests run past --request-timeout: add capacity or lower --max-num-seqs",
                "internal" => "internal: server faults: read the logged exception for the failing request ids; roll back a fresh release",
                "not_ready" or "draining" => "not_ready/draining: traffic reaches a replica that is not ready: check the load balancer uses /health/ready",
                _ => null,
            };
            if (lever != null)
            {
                levers.Add(lever);
            }
        }
        return new Finding("error_burst", server ? "error burst (server-side)" : "error burst (client errors)", server ? Severity.Critical : Severity.Warning,
            evidence, levers, "docs/runbooks/error-rate.md");
    }

    private static Finding KvPressure(DoctorNumbers n, DoctorThresholds t)
    {
        var evidence = new List<string>
        {
            F($"KV cache {Pct(n.KvUsage)} used now, {Pct(n.KvUsageMax)} at most ({n.KvBlocksFree:0} of {n.KvBlocks:0} blocks free)"),
        };
        if (n.Preemptions > 0)
        {
            evidence.Add(F($"{n.Preemptions:0} preemptions in {n.WindowSeconds:0.#} s ({n.Preemptions * 60 / n.WindowSeconds:0.#}/min): sequences evicted and recomputed"));
        }
        evidence.Add(F($"{n.Running:0} running, {n.Waiting:0} waiting; --max-num-seqs {n.MaxNumSeqs:0}"));
        var levers = new List<string>
        {
            F($"raise --kv-cache-memory (now {Size(n.KvCacheBytes)}) if the machine has memory to spare"),
            F($"lower --max-num-seqs (now {n.MaxNumSeqs:0}) so fewer sequences hold blocks at once"),
            F($"lower --max-model-len (now {n.MaxModelLen:0}) if requests never need the whole context"),
        };
        if (!n.PrefixCaching)
        {
            levers.Add("enable prefix caching (--enable-prefix-caching): shared prompt prefixes share blocks");
        }
        levers.Add("add replicas");
        return new Finding("kv_pressure", n.Preemptions > 0 ? "KV cache pressure: preemptions" : "KV cache pressure",
            n.Preemptions > 0 || n.KvUsageMax >= t.KvUsage ? Severity.Warning : Severity.Info, evidence, levers, "docs/runbooks/kv-cache.md");
    }

    private static Finding Queueing(DoctorNumbers n)
    {
        var evidence = new List<string>();
        if (n.TtftMean is { } ttft)
        {
            double queue = n.QueueMean ?? 0;
            evidence.Add(F($"mean TTFT {ttft:0.###} s, of which queue {queue:0.###} s ({Share(queue, ttft)}) and prefill {n.PrefillMean ?? 0:0.###} s"));
        }
        evidence.Add(F($"{n.Waiting:0} sequences waiting (at least {n.WaitingMin:0} at both scrapes); {n.Running:0} running of --max-num-seqs {n.MaxNumSeqs:0}"));
        evidence.Add(F($"KV cache {Pct(n.KvUsage)} used"));
        var levers = new List<string> { "add replicas (or raise the autoscaler's target): demand is above this replica's capacity" };
        if (n.KvUsageMax < 0.8)
        {
            levers.Add(F($"raise --max-num-seqs (now {n.MaxNumSeqs:0}): the KV cache has room ({Pct(n.KvUsageMax)} used at most)"));
        }
        levers.Add(F($"lower --max-num-queued-reqs (now {n.QueueLimit:0}) to shed load sooner with 429 + Retry-After instead of long waits"));
        return new Finding("queueing", "high TTFT from queueing", Severity.Warning, evidence, levers, "docs/runbooks/queueing.md");
    }

    private static Finding LongPrefill(DoctorNumbers n)
    {
        double ttft = n.TtftMean ?? 0, prefill = n.PrefillMean ?? 0;
        var evidence = new List<string>
        {
            F($"mean TTFT {ttft:0.###} s, of which prefill {prefill:0.###} s ({Share(prefill, ttft)}) and queue {n.QueueMean ?? 0:0.###} s"),
            F($"mean prompt {n.PromptTokensMean ?? 0:0} tokens; --max-num-batched-tokens {n.MaxNumBatchedTokens:0} per step"),
        };
        if (n.PrefixHitRate is { } hit)
        {
            evidence.Add($"prefix cache hit rate {Pct(hit)}" + (n.PrefixCaching ? "" : " (prefix caching is off)"));
        }
        var levers = new List<string>();
        if (!n.PrefixCaching)
        {
            levers.Add("enable prefix caching (--enable-prefix-caching): repeated prefixes are not recomputed");
        }
        else if (n.PrefixHitRate is < 0.2)
        {
            levers.Add("put shared content (system prompt, documents) first in prompts so the prefix cache can reuse it");
        }
        levers.Add(F($"raise --max-num-batched-tokens (now {n.MaxNumBatchedTokens:0}) so a prompt needs fewer steps"));
        levers.Add("shorten prompts, or route long-prompt traffic to replicas of its own");
        levers.Add("add replicas");
        return new Finding("long_prefill", "high TTFT from long prefill", Severity.Warning, evidence, levers, "docs/runbooks/latency.md#ttft-from-long-prefill");
    }

    private static Finding SlowDecode(DoctorNumbers n)
    {
        double itl = n.ItlMean ?? 0;
        return new Finding("slow_decode", "slow decode", Severity.Warning,
            [
                F($"mean inter-token latency {itl * 1000:0.#} ms ({1 / itl:0.#} tokens/s per sequence)"),
                F($"mean batch {n.MeanBatchSequences ?? 0:0.#} sequences, {n.MeanBatchTokens ?? 0:0} tokens per step; {n.GeneratedTokensPerSecond:0} tokens/s in all"),
            ],
            [
                F($"lower --max-num-seqs (now {n.MaxNumSeqs:0}): smaller batches, faster steps, less throughput"),
                "check --threads against the cores the container really has, and CPU contention from neighbours",
                "serve a smaller quantization (Q8_0, Q4_K): fewer bytes read per token",
            ],
            "docs/runbooks/latency.md#slow-decode");
    }

    private static Finding LowOccupancy(DoctorNumbers n, double batch)
    {
        bool tokenBound = n.MeanBatchTokens >= 0.9 * n.MaxNumBatchedTokens;
        return new Finding("low_batch_occupancy", "low batch occupancy while requests wait", Severity.Warning,
            [
                F($"mean batch {batch:0.#} of --max-num-seqs {n.MaxNumSeqs:0} sequences, {n.MeanBatchTokens ?? 0:0} of --max-num-batched-tokens {n.MaxNumBatchedTokens:0} tokens per step"),
                F($"{n.WaitingMin:0} sequences waiting at both scrapes"),
            ],
            tokenBound
                ? [F($"steps are full of tokens: raise --max-num-batched-tokens (now {n.MaxNumBatchedTokens:0})")]
                : ["the KV cache limits the batch: see kv_pressure's levers (--kv-cache-memory, --max-model-len)"],
            "docs/runbooks/latency.md#low-batch-occupancy");
    }

    private static Finding Healthy(DoctorNumbers n)
    {
        var evidence = new List<string> { F($"{n.Requests:0} requests in {n.WindowSeconds:0.#} s, {n.Errors:0} errors; {n.Running:0} running, {n.Waiting:0} waiting") };
        if (n.TtftMean is { } ttft)
        {
            evidence.Add(F($"mean TTFT {ttft:0.###} s, mean inter-token latency {(n.ItlMean ?? 0) * 1000:0.#} ms"));
        }
        evidence.Add(F($"KV cache {Pct(n.KvUsage)} used, no preemptions"));
        return new Finding("healthy", "healthy", Severity.Info, evidence, [], null);
    }

    private static string Share(double part, double whole) => whole > 0 ? Pct(part / whole) : "-";

    private static string Pct(double fraction) => (fraction * 100).ToString("0", Inv) + "%";

    /// <summary>96 KiB, 512 MiB, 2.5 GiB: as --kv-cache-memory takes it.</summary>
    private static string Size(double bytes) => bytes switch
    {
        >= 1 << 30 => (bytes / (1 << 30)).ToString("0.#", Inv) + " GiB",
        >= 1 << 20 => (bytes / (1 << 20)).ToString("0.#", Inv) + " MiB",
        _ => (bytes / 1024).ToString("0.#", Inv) + " KiB",
    };

    private static string F(FormattableString s) => s.ToString(Inv);
}
