using Sluice.Engine.Serving;
using Sluice.Hosting.Metrics.Exposition;
using Sluice.Server.Observability;

namespace Sluice.Server.Metrics;

/// <summary>
/// --metrics-compat vllm: the same data under vLLM's current names, label names (model_name, engine) and
/// buckets, so vLLM dashboards, alerts, autoscalers and inference-aware routers work unchanged.
/// </summary>
internal sealed class VllmMetricSet
{
    private const string Engine = "0";
    private readonly ScrapeState _s;
    private readonly Counter _success;
    private readonly RequestHistograms _histograms;

    public VllmMetricSet(MetricRegistry r, MetricsOptions options, ScrapeState s)
    {
        _s = s;
        string[] labels = ["model_name", "engine"];
        Observation[] One(double value) => [new Observation(value, s.Host.Name, Engine)];
        double Stat(Func<EngineStats, double> read) => s.Stats is { } st ? read(st) : 0;
        void Add(string name, string help, MetricType type, Func<EngineStats, double> read) =>
            r.Add(new ObservedMetric(name, help, type, labels, () => One(Stat(read))));

        Add("vllm:num_requests_running", "Number of requests in model execution batches.", MetricType.Gauge, st => st.Running);
        Add("vllm:num_requests_waiting", "Number of requests waiting to be processed.", MetricType.Gauge, st => st.Waiting);
        Add("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", MetricType.Gauge, st => st.KvUsage);
        Add("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.", MetricType.Counter, st => st.Preemptions);
        Add("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.", MetricType.Counter, st => st.PrefixCacheQueries);
        Add("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.", MetricType.Counter, st => st.PrefixCacheHits);
        Add("vllm:prompt_tokens_total", "Number of prefill tokens processed.", MetricType.Counter, st => st.PromptTokens);
        Add("vllm:generation_tokens_total", "Number of generation tokens processed.", MetricType.Counter, st => st.GenerationTokens);
        _success = r.Add(new Counter("vllm:request_success_total", "Count of successfully processed requests.", "model_name", "engine", "finished_reason"));

        IReadOnlyList<double> B(string name, IReadOnlyList<double> defaults) => options.BucketsOf(name, defaults);
        Histogram H(string name, string help, IReadOnlyList<double> buckets) => r.Add(new Histogram(name, help, B(name, buckets), labels));
        _histograms = new RequestHistograms
        {
            Ttft = H("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", Buckets.VllmTtft),
            Itl = H("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", Buckets.VllmItl),
            E2e = H("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", Buckets.VllmRequest),
            Queue = H("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", Buckets.VllmRequest),
            Prefill = H("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", Buckets.VllmRequest),
            Decode = H("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", Buckets.VllmRequest),
            Inference = H("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", Buckets.VllmRequest),
            PromptTokens = H("vllm:request_prompt_tokens", "Number of prefill tokens processed.", Buckets.Tokens),
            GenerationTokens = H("vllm:request_generation_tokens", "Number of generation tokens processed.", Buckets.Tokens),
        };
    }

    public void Observe(RequestRecord r)
    {
        string model = _s.Host.Name;
        foreach (var reason in r.FinishReasons)
        {
            _success.Increment(model, Engine, SluiceMetricSet.FinishReasonValues.Contains(reason) ? reason : "error");
        }
        _histograms.Observe(r, model, Engine);
    }
}
