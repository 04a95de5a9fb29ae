using System.Collections.Concurrent;
using System.Diagnostics;
using Sluice.Gateway.Management;
using Sluice.Gateway.Rollouts;
using Sluice.Gateway.Routing;
using Sluice.Gateway.Tenancy.Spend;
using Sluice.Hosting.Metrics;
using Sluice.Hosting.Metrics.Exposition;

namespace Sluice.Gateway.Observability;

/// <summary>The gateway's /metrics (every sluice_gateway_ family is listed in docs/gateway.md, checked by a test), with the
/// process_ and sluice_gc_ series every Sluice host serves (docs/metrics.md).</summary>
public sealed class GatewayMetrics
{
    /// <summary>Seconds: from 0.1 ms (the gateway's own cost) to 2 minutes (a long generation).</summary>
    private static readonly double[] LatencyBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    public GatewayMetrics(Router router)
    {
        Requests = Registry.Add(new Counter("sluice_gateway_requests_total", "Requests answered by a backend or the response cache (backend \"cache\"), by model, version, backend and status code.",
            "model", "version", "backend", "code"));
        Errors = Registry.Add(new Counter("sluice_gateway_request_errors_total", "Requests the gateway could not serve, by model and reason.", "model", "reason"));
        Duration = Registry.Add(new Histogram("sluice_gateway_request_duration_seconds", "End-to-end time of a request through the gateway.", LatencyBuckets,
            "model", "version", "backend"));
        Added = Registry.Add(new Histogram("sluice_gateway_added_latency_seconds", "Time the gateway adds before the backend's response headers reach the client.",
            LatencyBuckets, "model", "version", "backend"));
        Retries = Registry.Add(new Counter("sluice_gateway_retries_total", "Attempts sent again to the same backend (a 500 once, a 429 after a back-off), by model and reason.", "model", "reason"));
        Failovers = Registry.Add(new Counter("sluice_gateway_failovers_total", "Attempts moved to another backend (or a fallback model), by model and why the previous one failed.", "model", "reason"));
        Continuations = Registry.Add(new Counter("sluice_gateway_continuations_total", "Continuation attempts of cut streams on another backend, one per choice continued, by model, mode (tokens, text, prefill, restart) and result (ok, failed).",
            "model", "mode", "result"));
        StreamFaults = Registry.Add(new Counter("sluice_gateway_stream_faults_total", "Faults seen in backends' streams, by model and kind (cut, stall, first_token, malformed, error_event, no_done).", "model", "kind"));
        Ttft = Registry.Add(new Histogram("sluice_gateway_time_to_first_token_seconds", "Streams: time from the request's arrival to its first token reaching the client.", LatencyBuckets,
            "model", "version", "backend"));
        Itl = Registry.Add(new Histogram("sluice_gateway_inter_token_latency_seconds", "Streams: time between two token chunks sent to the client.", LatencyBuckets,
            "model", "version", "backend"));
        FailedAttempts = Registry.Add(new Histogram("sluice_gateway_failed_attempt_duration_seconds",
            "Time from sending an attempt to a backend to giving up on it (the attempt did not give the client its answer), by model, backend and reason.",
            LatencyBuckets, "model", "backend", "reason"));
        CanaryGates = Registry.Add(new Counter("sluice_gateway_canary_gate_evaluations_total",
            "Canary analysis gate evaluations, by model, gate (error_rate, ttft_p95, itl_p95, golden) and result (pass, fail, inconclusive, no_data).",
            "model", "gate", "result"));
        Registry.Add(new ObservedMetric("sluice_gateway_canary_state", "Canary analysis state per model: 0 idle, 1 progressing, 2 promoted, 3 rolled back, 4 aborted.",
            MetricType.Gauge, ["model", "version"], () => CanaryStatus().Select(c => new Observation((int)c.State, c.Model, c.Version))));
        Registry.Add(new ObservedMetric("sluice_gateway_canary_weight_percent", "Percent of a model's traffic the canary under analysis gets now.",
            MetricType.Gauge, ["model", "version"], () => CanaryStatus().Select(c => new Observation(c.Weight, c.Model, c.Version))));
        Reloads = Registry.Add(new Counter("sluice_gateway_config_reloads_total", "Configuration file reloads, by result (ok, rejected).", "result"));
        TrafficChanges = Registry.Add(new Counter("sluice_gateway_traffic_changes_total",
            "Changes of a model's traffic split, by model and action (set, promote, rollback over the admin API; file: added, removed or set by the file).",
            "model", "action"));
        // every series from zero, so increase() sees the first rollback and the first rejected reload
        Reloads.Touch("ok");
        Reloads.Touch("rejected");
        foreach (var model in router.Splits.Keys)
        {
            TouchTrafficChanges(model);
        }
        router.Changed += change =>
        {
            if (change.Model is not null)
            {
                TouchTrafficChanges(change.Model);
                TrafficChanges.Increment(change.Model, ActionOf(change));
            }
        };
        StoreErrors = Registry.Add(new Counter("sluice_gateway_tenancy_store_errors_total",
            "Calls to the tenancy database or Redis that failed, by store (database, redis) and what was done (closed: refused, open: served).", "store", "fail_mode"));
        KeyRejections = Registry.Add(new Counter("sluice_gateway_key_rejections_total",
            "Requests refused by virtual-key checks, by reason (missing, malformed, unknown, revoked, blocked, expired, model, rpm, tpm, parallel).", "reason"));
        Tokens = Registry.Add(new Counter("sluice_gateway_tokens_total", "Tokens billed, by model, team (empty without a key or team) and kind (prompt, completion).",
            "model", "team", "kind"));
        Registry.Add(new ObservedMetric("sluice_gateway_spend_total", "Spend in the prices' currency, by model and team (empty without a key or team); per key: GET /admin/spend.",
            MetricType.Counter, ["model", "team"], () => _spend.Select(kv => new Observation((double)Price.ToMoney(kv.Value), kv.Key.Model, kv.Key.Team))));
        SpendWrites = Registry.Add(new Counter("sluice_gateway_spend_writes_total",
            "Spend rows by result: ok (committed: before the response ended with journal off, in the background from the spend journal), retained (kept in memory: the database failed), recovered (retained, written later), failed (lost: still unwritten at stop, or past the in-memory cap).",
            "result"));
        Registry.Add(new ObservedMetric("sluice_gateway_spend_backlog_rows", "Spend rows kept in memory until the tenancy database is back.",
            MetricType.Gauge, [], () => [new Observation(SpendBacklog())]));
        Registry.Add(new ObservedMetric("sluice_gateway_spend_journal_rows", "Spend rows in this gateway's spend journal not yet committed to the tenancy database.",
            MetricType.Gauge, [], () => [new Observation(SpendJournalRows())]));
        CacheRequests = Registry.Add(new Counter("sluice_gateway_cache_requests_total",
            "Requests the response cache saw, by model and result (hit: answered from the cache, miss: looked up and not there, bypass: not cacheable or opted out).",
            "model", "result"));
        CacheCoalesced = Registry.Add(new Counter("sluice_gateway_cache_coalesced_total",
            "Cache hits that waited for an identical miss in flight and were answered from its result instead of calling a backend, by model.", "model"));
        CacheWrites = Registry.Add(new Counter("sluice_gateway_cache_writes_total",
            "Answers offered to the response cache, by result (stored, too_large: over max_entry_size, incomplete: not a finished answer).", "result"));
        CacheEvictions = Registry.Add(new Counter("sluice_gateway_cache_evictions_total",
            "Entries the in-memory response cache dropped, by reason (size: least recently used, over max_size; expired: past its ttl).", "reason"));
        CacheErrors = Registry.Add(new Counter("sluice_gateway_cache_errors_total",
            "Response cache store calls that failed (Redis unreachable), by operation (get, set: served as a miss; flush).", "operation"));
        Registry.Add(new ObservedMetric("sluice_gateway_cache_entries", "Answers held by the response cache (memory store; Redis reports its own keys).",
            MetricType.Gauge, ["store"], () => CacheStatus() is { Size: { } size } c ? [new Observation(size.Entries, c.Store)] : []));
        Registry.Add(new ObservedMetric("sluice_gateway_cache_size_bytes", "Bytes held by the response cache (memory store), bounded by cache.max_size.",
            MetricType.Gauge, ["store"], () => CacheStatus() is { Size: { } size } c ? [new Observation(size.Bytes, c.Store)] : []));
        Registry.Add(new ObservedMetric("sluice_gateway_cache_hit_ratio", "Hits over hits and misses of the response cache since the gateway started (bypasses not counted).",
            MetricType.Gauge, ["store"], () => CacheStatus() is { } c ? [new Observation(c.Ratio, c.Store)] : []));
        Registry.Add(new ObservedMetric("sluice_gateway_backend_circuit_state", "Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.",
            MetricType.Gauge, ["backend"], () => router.Backends.All.Select(b => new Observation((int)b.Breaker.State, b.Id))));
        Registry.Add(new ObservedMetric("sluice_gateway_backend_ready", "1 when the backend's last readiness check passed.",
            MetricType.Gauge, ["backend"], () => router.Backends.All.Select(b => new Observation(b.Ready ? 1 : 0, b.Id))));
        Registry.Add(new ObservedMetric("sluice_gateway_backend_in_flight", "Requests in flight per backend.",
            MetricType.Gauge, ["backend"], () => router.Backends.All.Select(b => new Observation(b.InFlight, b.Id))));
        Registry.Add(new ObservedMetric("sluice_gateway_traffic_percent", "Traffic split: percent of a model's requests sent to each version.",
            MetricType.Gauge, ["model", "version"], () => router.Splits.SelectMany(m => m.Value.Percent.Select(v => new Observation(v.Value, m.Key, v.Key)))));
        ProcessMetricSet.Register(Registry, Process.GetCurrentProcess());
    }

    public MetricRegistry Registry { get; } = new();

    private static readonly string[] StatusLabels = [.. Enumerable.Range(0, 600).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture))];
    private static readonly string[] StatusReasons = [.. Enumerable.Range(0, 600).Select(c => "status_" + StatusLabels[c])];

    /// <summary>A status code as its label value ("200"), without a new string per request.</summary>
    public static string StatusLabel(int status) => (uint)status < StatusLabels.Length ? StatusLabels[status] : status.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A status code as a failure reason ("status_503"), without a new string per request.</summary>
    public static string StatusReason(int status) => (uint)status < StatusReasons.Length ? StatusReasons[status] : "status_" + StatusLabel(status);
    public Counter Requests { get; }
    public Counter Errors { get; }
    public Histogram Duration { get; }
    public Histogram Added { get; }
    public Counter Retries { get; }
    public Counter Failovers { get; }
    public Counter Continuations { get; }
    public Counter StreamFaults { get; }
    public Histogram Ttft { get; }
    public Histogram Itl { get; }
    public Counter Reloads { get; }
    public Histogram FailedAttempts { get; }
    public Counter CanaryGates { get; }

    /// <summary>What the canary analysis reads: every attempt, first token and inter-token gap of models under analysis.</summary>
    public VersionSamples Samples { get; } = new();

    /// <summary>The canary analyses' states for the gauges (set by the canary controller).</summary>
    public Func<IEnumerable<(string Model, string Version, CanaryState State, int Weight)>> CanaryStatus { get; set; } = () => [];

    /// <summary>An attempt on a backend ended: <paramref name="failureReason"/> null when it gave the client its answer.</summary>
    public void AttemptEnded(string model, string version, string backend, string? failureReason, double seconds)
    {
        if (failureReason is not null)
        {
            FailedAttempts.Observe(seconds, model, backend, failureReason);
        }
        Samples.Attempt(model, version, failureReason);
    }

    public void ObserveTtft(double seconds, string model, string version, string backend)
    {
        Ttft.Observe(seconds, model, version, backend);
        Samples.Ttft(model, version, seconds);
    }

    public void ObserveItl(double seconds, string model, string version, string backend)
    {
        Itl.Observe(seconds, model, version, backend);
        Samples.Itl(model, version, seconds);
    }
    public Counter TrafficChanges { get; }

    private void TouchTrafficChanges(string model)
    {
        foreach (var action in new[] { "set", "promote", "rollback", "file" })
        {
            TrafficChanges.Touch(model, action);
        }
    }

    /// <summary>
    /// The action label of a routing change: what the admin API or the canary analysis did (an automatic rollback is a
    /// "rollback" too, so the canary alert fires for it), or "file" for a change the file made.
    /// </summary>
    public static string ActionOf(ChangeRecord change) => change.Source is not ("api" or "canary") ? "file"
        : change.Action.Contains("rolled back", StringComparison.Ordinal) ? "rollback"
        : change.Action.StartsWith("promoted", StringComparison.Ordinal) ? "promote"
        : "set";
    public Counter CacheRequests { get; }
    public Counter CacheCoalesced { get; }
    public Counter CacheWrites { get; }
    public Counter CacheEvictions { get; }
    public Counter CacheErrors { get; }

    /// <summary>The response cache's store, size (memory only) and hit ratio for the gauges (set by the cache); null: no cache.</summary>
    public Func<(string Store, (long Entries, long Bytes)? Size, double Ratio)?> CacheStatus { get; set; } = () => null;
    public Counter StoreErrors { get; }
    public Counter KeyRejections { get; }
    public Counter Tokens { get; }
    public Counter SpendWrites { get; }

    /// <summary>Rows the spend writer keeps in memory (set once spend is on).</summary>
    public Func<int> SpendBacklog { get; set; } = () => 0;

    /// <summary>Journaled spend rows not yet committed (0 with the journal off).</summary>
    public Func<long> SpendJournalRows { get; set; } = () => 0;

    private readonly ConcurrentDictionary<(string Model, string Team), long> _spend = new();

    /// <summary>Adds to sluice_gateway_spend_total (kept exact in pico-units, shown in currency units).</summary>
    public void AddSpend(string model, string team, long pico) => _spend.AddOrUpdate((model, team), pico, (_, total) => total + pico);
}
