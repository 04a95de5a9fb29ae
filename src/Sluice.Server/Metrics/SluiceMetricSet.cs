using System.Reflection;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Metrics;
using Sluice.Hosting.Metrics.Exposition;
using Sluice.Hosting.Tracing;
using Sluice.Server.Hosting;
using Sluice.Server.Observability;

namespace Sluice.Server.Metrics;

/// <summary>The sluice_ metrics: requests, errors, latencies, tokens, engine gauges, KV cache, model.</summary>
internal sealed class SluiceMetricSet
{
    private readonly Counter _requests;
    private readonly Counter _errors;
    private readonly Counter _finished;
    private readonly RequestHistograms _histograms;
    private readonly Histogram _stages;

    public SluiceMetricSet(MetricRegistry r, MetricsOptions options, ScrapeState s)
    {
        _requests = r.Add(new Counter("sluice_requests_total", "Requests answered, by route template, HTTP status code and outcome.", "route", "code", "outcome"));
        _errors = r.Add(new Counter("sluice_request_errors_total", "Requests that did not complete, by kind (a rejection reason, internal or aborted).", "kind"));
        _finished = r.Add(new Counter("sluice_sequences_finished_total", "Generated sequences (choices) finished, by finish_reason.", "finish_reason"));
        foreach (var kind in ErrorKinds)
        {
            _errors.Touch(kind);
        }
        foreach (var reason in FinishReasonValues)
        {
            _finished.Touch(reason);
        }
        r.Add(new ObservedMetric("sluice_rejections_total", "Requests turned away or ended early, by reason.", MetricType.Counter, ["reason"],
            () => s.Serving.Telemetry.Rejections.Snapshot().Select(p => new Observation(p.Value, LabelValues.Snake(p.Key)))));

        IReadOnlyList<double> B(string name, IReadOnlyList<double> defaults) => options.BucketsOf(name, defaults);
        _histograms = new RequestHistograms
        {
            Ttft = r.Add(new Histogram("sluice_time_to_first_token_seconds", "Time from arrival at the engine to the first token.", B("sluice_time_to_first_token_seconds", Buckets.Ttft))),
            Itl = r.Add(new Histogram("sluice_inter_token_latency_seconds", "Time between consecutive tokens of a sequence.", B("sluice_inter_token_latency_seconds", Buckets.Itl))),
            E2e = r.Add(new Histogram("sluice_e2e_request_latency_seconds", "Whole HTTP request duration of generation requests that reached the engine.", B("sluice_e2e_request_latency_seconds", Buckets.E2e))),
            Queue = r.Add(new Histogram("sluice_request_queue_time_seconds", "Time waiting in the engine before first scheduled.", B("sluice_request_queue_time_seconds", Buckets.Phase))),
            Prefill = r.Add(new Histogram("sluice_request_prefill_time_seconds", "Time from first scheduled to first token (the prompt's prefill).", B("sluice_request_prefill_time_seconds", Buckets.Phase))),
            Decode = r.Add(new Histogram("sluice_request_decode_time_seconds", "Time from first token to last token.", B("sluice_request_decode_time_seconds", Buckets.Phase))),
            Inference = r.Add(new Histogram("sluice_request_inference_time_seconds", "Time from first scheduled to last token (prefill plus decode).", B("sluice_request_inference_time_seconds", Buckets.Phase))),
            PromptTokens = r.Add(new Histogram("sluice_request_prompt_tokens", "Prompt tokens per request.", B("sluice_request_prompt_tokens", Buckets.Tokens))),
            GenerationTokens = r.Add(new Histogram("sluice_request_generation_tokens", "Generated tokens per request.", B("sluice_request_generation_tokens", Buckets.Tokens))),
        };
        _histograms.Touch();
        _stages = r.Add(new Histogram("sluice_request_stage_seconds",
            "CPU-side time of a generation request outside the model, by stage (body_read, json_parse, template_render, tokenize, detokenize, json_write, sse_write), summed per request.",
            B("sluice_request_stage_seconds", Buckets.Stage), "stage"));
        foreach (var stage in RequestStages.AllNames)
        {
            _stages.Touch(stage);
        }

        double Stat(Func<Engine.Serving.EngineStats, double> read) => s.Stats is { } st ? read(st) : 0;
        ObservedMetric Engine(string name, string help, MetricType type, Func<Engine.Serving.EngineStats, double> read) =>
            r.Add(ObservedMetric.Single(name, help, type, () => Stat(read)));

        Engine("sluice_prompt_tokens_total", "Prompt tokens admitted to the engine (each prompt once, however often recomputed).", MetricType.Counter, st => st.PromptTokens);
        Engine("sluice_generation_tokens_total", "Tokens generated.", MetricType.Counter, st => st.GenerationTokens);
        Engine("sluice_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.", MetricType.Counter, st => st.PrefixCacheQueries);
        Engine("sluice_prefix_cache_hits_total", "Prompt tokens found in the prefix cache (not recomputed).", MetricType.Counter, st => st.PrefixCacheHits);
        r.Add(new ObservedMetric("sluice_preemptions_total", "Running sequences preempted (their KV blocks freed, recomputed later), by reason.", MetricType.Counter, ["reason"],
            () => [new Observation(Stat(st => st.Preemptions), "kv_cache_full")]));
        Engine("sluice_engine_steps_total", "Engine steps run (one batch through the model each).", MetricType.Counter, st => st.Steps);
        Engine("sluice_engine_busy_seconds_total", "Seconds the engine spent inside steps that ran a batch (the CPU counterpart of GPU utilization; idle waits and worker spinning excluded).",
            MetricType.Counter, st => st.BusySeconds);
        Engine("sluice_engine_step_tokens_total", "Tokens run through the model, summed over steps (prefill chunks, recomputation, decodes).", MetricType.Counter, st => st.ComputedTokens);
        Engine("sluice_engine_step_sequences_total", "Sequences scheduled, summed over steps.", MetricType.Counter, st => st.ScheduledSequences);

        Engine("sluice_requests_running", "Sequences running in the engine (one per request unless n > 1).", MetricType.Gauge, st => st.Running);
        Engine("sluice_requests_waiting", "Sequences waiting in the engine for their first schedule or to resume after preemption.", MetricType.Gauge, st => st.Waiting);
        Engine("sluice_kv_cache_usage_ratio", "Fraction of KV cache blocks in use (0 to 1).", MetricType.Gauge, st => st.KvUsage);
        Engine("sluice_kv_cache_blocks", "KV cache blocks in the pool.", MetricType.Gauge, st => st.KvBlocksTotal);
        Engine("sluice_kv_cache_blocks_free", "KV cache blocks free (cached prefix blocks that can be evicted count as free).", MetricType.Gauge, st => st.KvBlocksFree);
        Engine("sluice_kv_cache_blocks_cached", "KV cache blocks holding a cached prefix.", MetricType.Gauge, st => st.KvCachedBlocks);
        Engine("sluice_step_tokens", "Tokens in the last engine step (batch occupancy).", MetricType.Gauge, st => st.LastStepTokens);
        Engine("sluice_step_sequences", "Sequences in the last engine step (batch occupancy).", MetricType.Gauge, st => st.LastStepSequences);
        r.Add(ObservedMetric.Single("sluice_kv_cache_bytes", "Bytes of the KV cache pool.", MetricType.Gauge, () => s.Engine?.KvCacheBytes ?? 0));

        var engineOptions = () => s.Engine?.Options;
        r.Add(ObservedMetric.Single("sluice_engine_max_num_seqs", "--max-num-seqs: sequences one step may run.", MetricType.Gauge, () => engineOptions()?.MaxNumSeqs ?? 0));
        r.Add(ObservedMetric.Single("sluice_engine_max_num_batched_tokens", "--max-num-batched-tokens: tokens one step may run.", MetricType.Gauge, () => engineOptions()?.MaxNumBatchedTokens ?? 0));
        r.Add(ObservedMetric.Single("sluice_engine_max_model_len", "--max-model-len: prompt plus output tokens per sequence.", MetricType.Gauge, () => s.Engine?.MaxModelLen ?? 0));
        r.Add(ObservedMetric.Single("sluice_engine_prefix_caching_enabled", "1 when --enable-prefix-caching is on.", MetricType.Gauge, () => engineOptions()?.EnablePrefixCaching == true ? 1 : 0));
        r.Add(ObservedMetric.Single("sluice_admission_queue_limit", "--max-num-queued-reqs: sequences that may wait beyond --max-num-seqs before 429.", MetricType.Gauge, () => s.Serving.Options.MaxNumQueuedReqs));

        r.Add(new ObservedMetric("sluice_model_state", "1 for the server's current state (loading, warming_up, ready, draining, stopped, failed), 0 for the others.", MetricType.Gauge, ["state"],
            () => Enum.GetValues<ServerState>().Select(st => new Observation(s.Host.State == st ? 1 : 0, LabelValues.Snake(st)))));
        r.Add(ObservedMetric.Single("sluice_model_load_seconds", "How long loading the model and starting the engine took (0 until loaded).", MetricType.Gauge, () => s.Host.LoadTime.TotalSeconds));
        r.Add(new ObservedMetric("sluice_startup_seconds",
            "Seconds each start-up phase took, once it has run: load (reading the model), pack (packing the weights or mapping the packed-weights cache), warmup.",
            MetricType.Gauge, ["phase"], () => s.Host.StartupSeconds.Select(p => new Observation(p.Value, p.Key))));
        r.Add(new ObservedMetric("sluice_packed_weights_cache",
            "1 for what the packed-weights cache did at load: hit (mapped an existing file), built (packed and wrote one), disabled, failed, nothing_to_pack.",
            MetricType.Gauge, ["outcome"], () => s.Host.PackedWeights is { } pw ? [new Observation(1, LabelValues.Snake(pw.Outcome))] : []));
        r.Add(ObservedMetric.Single("sluice_model_weights_bytes", "Bytes of model weights one decode step reads (memory-mapped or converted at load).", MetricType.Gauge, () => s.Host.Model?.WeightBytes ?? 0));
        (Engine.Models.LoadedModel Model, ModelFingerprint Print)? fingerprint = null; // computed at the first scrape after load
        r.Add(new ObservedMetric("sluice_model_info",
            "Always 1: the served model (first served name), its format, architecture, sha256 (empty until computed), weight types, tokenizer and chat-template hashes and generation defaults.",
            MetricType.Gauge, ["model", "format", "architecture", "sha256", "quantization", "tokenizer_hash", "chat_template_hash", "temperature", "top_p", "top_k"],
            () =>
            {
                if (s.Host.Model is not { } m)
                {
                    return [];
                }
                var f = fingerprint is { } known && ReferenceEquals(known.Model, m) ? known.Print : (fingerprint = (m, ModelFingerprint.Of(m, s.Host.Chat))).Value.Print;
                return [new Observation(1, s.Host.Name, m.Format, m.Config.Architecture, s.Host.Digest.Sha256 ?? "", f.Quantization, f.TokenizerHash, f.ChatTemplateHash,
                    f.Temperature, f.TopP, f.TopK)];
            }));
        string informational = typeof(SluiceMetricSet).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        int plus = informational.IndexOf('+', StringComparison.Ordinal);
        string version = plus < 0 ? informational : informational[..plus], commit = plus < 0 ? "" : informational[(plus + 1)..];
        r.Add(new ObservedMetric("sluice_build_info",
            "Always 1: the Sluice version and commit, .NET runtime, CPU model, the kernels' instruction-set path and the engine's kernel threads (empty until loaded).",
            MetricType.Gauge, ["version", "commit", "runtime", "cpu", "kernel_path", "threads"],
            () => [new Observation(1, version, commit, Environment.Version.ToString(), Sluice.Engine.Kernels.CpuInfo.Model, Sluice.Engine.Kernels.Simd.Path,
                s.Host.Engine?.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "")]));
    }

    /// <summary>Every value the kind label takes: the rejection reasons, internal and aborted.</summary>
    public static IEnumerable<string> ErrorKinds => LabelValues.AllSnake<AdmissionRejection>().Concat(["internal", "aborted"]);

    public static IReadOnlyList<string> FinishReasonValues { get; } = ["stop", "length", "abort", "error"];

    public void Observe(RequestRecord r)
    {
        _requests.Increment(LabelValues.Route(r.Route), LabelValues.Code(r.StatusCode), LabelValues.Snake(r.Outcome));
        if (r.Outcome != RequestOutcome.Completed)
        {
            _errors.Increment(KindOf(r));
        }
        foreach (var reason in r.FinishReasons)
        {
            _finished.Increment(FinishReasonValues.Contains(reason) ? reason : "error");
        }
        _histograms.Observe(r);
        foreach (var stage in r.Stages)
        {
            _stages.Observe(stage.Total.TotalSeconds, stage.Name);
        }
    }

    internal static string KindOf(RequestRecord r) => r.Rejection is { } reason ? LabelValues.Snake(reason)
        : r.Outcome == RequestOutcome.Aborted ? "aborted"
        : "internal";
}
