namespace Sluice.Cli.Diagnosis;

/// <summary>The window's key figures, computed once from two scrapes; the evidence quotes them.</summary>
internal sealed record DoctorNumbers
{
    public double WindowSeconds { get; init; }
    public double Requests { get; init; }
    public double RequestsPerSecond { get; init; }
    public double Errors { get; init; }
    public double ErrorRate { get; init; }
    public IReadOnlyDictionary<string, double> ErrorsByKind { get; init; } = new Dictionary<string, double>();
    public double GeneratedTokensPerSecond { get; init; }
    public double Running { get; init; }
    public double Waiting { get; init; }
    public double WaitingMin { get; init; }
    public double KvUsage { get; init; }
    public double KvUsageMax { get; init; }
    public double KvBlocks { get; init; }
    public double KvBlocksFree { get; init; }
    public double KvCacheBytes { get; init; }
    public double Preemptions { get; init; }
    public double? TtftMean { get; init; }
    public double? QueueMean { get; init; }
    public double? PrefillMean { get; init; }
    public double? ItlMean { get; init; }
    public double? PromptTokensMean { get; init; }
    public double? PrefixHitRate { get; init; }
    public double? MeanBatchSequences { get; init; }
    public double? MeanBatchTokens { get; init; }
    public double MaxNumSeqs { get; init; }
    public double MaxNumBatchedTokens { get; init; }
    public double MaxModelLen { get; init; }
    public bool PrefixCaching { get; init; }
    public double QueueLimit { get; init; }

    public static DoctorNumbers From(MetricWindow w)
    {
        double requests = w.Delta("sluice_requests_total");
        var kinds = w.Last.All("sluice_request_errors_total").Select(s => s.Labels["kind"]).Distinct()
            .Select(k => (Kind: k, Count: w.Delta("sluice_request_errors_total", ("kind", k))))
            .Where(k => k.Count > 0 && k.Kind != "cancelled") // a client hanging up is not the server's error
            .ToDictionary(k => k.Kind, k => k.Count);
        double errors = kinds.Values.Sum();
        double steps = w.Delta("sluice_engine_steps_total");
        double queries = w.Delta("sluice_prefix_cache_queries_total");
        return new DoctorNumbers
        {
            WindowSeconds = w.Seconds,
            Requests = requests,
            RequestsPerSecond = requests / w.Seconds,
            Errors = errors,
            ErrorRate = requests > 0 ? errors / requests : 0,
            ErrorsByKind = kinds,
            GeneratedTokensPerSecond = w.Delta("sluice_generation_tokens_total") / w.Seconds,
            Running = w.Now("sluice_requests_running"),
            Waiting = w.Now("sluice_requests_waiting"),
            WaitingMin = w.Min("sluice_requests_waiting"),
            KvUsage = w.Now("sluice_kv_cache_usage_ratio"),
            KvUsageMax = w.Max("sluice_kv_cache_usage_ratio"),
            KvBlocks = w.Now("sluice_kv_cache_blocks"),
            KvBlocksFree = w.Now("sluice_kv_cache_blocks_free"),
            KvCacheBytes = w.Now("sluice_kv_cache_bytes"),
            Preemptions = w.Delta("sluice_preemptions_total"),
            TtftMean = w.Mean("sluice_time_to_first_token_seconds").Mean,
            QueueMean = w.Mean("sluice_request_queue_time_seconds").Mean,
            PrefillMean = w.Mean("sluice_request_prefill_time_seconds").Mean,
            ItlMean = w.Mean("sluice_inter_token_latency_seconds").Mean,
            PromptTokensMean = w.Mean("sluice_request_prompt_tokens").Mean,
            PrefixHitRate = queries > 0 ? w.Delta("sluice_prefix_cache_hits_total") / queries : null,
            MeanBatchSequences = steps > 0 ? w.Delta("sluice_engine_step_sequences_total") / steps : null,
            MeanBatchTokens = steps > 0 ? w.Delta("sluice_engine_step_tokens_total") / steps : null,
            MaxNumSeqs = w.Now("sluice_engine_max_num_seqs"),
            MaxNumBatchedTokens = w.Now("sluice_engine_max_num_batched_tokens"),
            MaxModelLen = w.Now("sluice_engine_max_model_len"),
            PrefixCaching = w.Now("sluice_engine_prefix_caching_enabled") > 0,
            QueueLimit = w.Now("sluice_admission_queue_limit"),
        };
    }
}
