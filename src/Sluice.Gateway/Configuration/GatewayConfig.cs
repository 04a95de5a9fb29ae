using Sluice.Gateway.Tenancy;

namespace Sluice.Gateway.Configuration;

/// <summary>A gateway configuration file, validated (<see cref="GatewayConfigReader"/>). Immutable: a reload builds a new one.</summary>
public sealed record GatewayConfig
{
    public required IReadOnlyList<ModelConfig> Models { get; init; }
    public RoutingSettings Routing { get; init; } = new();
    public RetrySettings Retry { get; init; } = new();
    public TimeoutSettings Timeouts { get; init; } = new();
    public HealthSettings Health { get; init; } = new();
    public BreakerSettings Breaker { get; init; } = new();

    /// <summary>tenancy: virtual keys, their store and limits; null: off (the hosting layer's keys only).</summary>
    public TenancySettings? Tenancy { get; init; }

    /// <summary>cache: the response cache for deterministic requests; null: off.</summary>
    public Caching.CacheSettings? Cache { get; init; }

    /// <summary>The admin key from the file (a LiteLLM config's general_settings.master_key); --master-key wins.</summary>
    public string? MasterKey { get; init; }
}

/// <summary>A public model name and the deployments that serve it; <see cref="Traffic"/> splits requests across versions (percent).</summary>
public sealed record ModelConfig(string Name, IReadOnlyList<DeploymentConfig> Deployments, IReadOnlyDictionary<string, int> Traffic)
{
    /// <summary>context_window_fallbacks: the models (of the same file), in order, a request goes to when this one answers
    /// that the prompt exceeds its context; none: such a 400 is passed on.</summary>
    public IReadOnlyList<string> ContextWindowFallbacks { get; init; } = [];

    /// <summary>pools: request-shape rules, the first that matches names the pool of deployments a request goes to.</summary>
    public IReadOnlyList<PoolRule> Pools { get; init; } = [];

    /// <summary>fallbacks: the models, in order, a request goes to when every replica of this one failed before answering.</summary>
    public IReadOnlyList<string> Fallbacks { get; init; } = [];

    /// <summary>canary: automatic canary analysis of one version against the stable one; null: none.</summary>
    public CanarySettings? Canary { get; init; }
}

/// <summary>
/// canary: a version given traffic step by step (<see cref="Steps"/>, percent; the last is 100: promotion), each step held
/// for <see cref="Interval"/> and analysed against the stable version: error rate, p95 time to first token, p95
/// inter-token latency, and an optional golden-prompt command. A failed analysis beyond <see cref="FailureLimit"/> sends
/// the canary's traffic to 0 (rolled back); passing ones advance a step.
/// </summary>
public sealed record CanarySettings(string Version, IReadOnlyList<int> Steps, TimeSpan Interval)
{
    /// <summary>failure_limit: failed analyses tolerated (they hold the step); the next one rolls back (Argo's failureLimit). Default 0.</summary>
    public int FailureLimit { get; init; }

    /// <summary>min_requests: attempts the canary must have had in an interval for its error rate to be judged; fewer holds the step. Default 20.</summary>
    public int MinRequests { get; init; } = 20;

    /// <summary>max_error_rate_increase_percent: points by which the canary's error rate may exceed the stable one's. Default 1.</summary>
    public double MaxErrorRateIncrease { get; init; } = 0.01;

    /// <summary>max_ttft_p95_ratio: the canary's p95 time to first token may be this many times the stable one's (plus the slack). Default 1.5.</summary>
    public double MaxTtftRatio { get; init; } = 1.5;

    /// <summary>max_itl_p95_ratio: the same for the p95 inter-token latency. Default 1.5.</summary>
    public double MaxItlRatio { get; init; } = 1.5;

    /// <summary>latency_slack: added to the latency limits, so tiny latencies do not fail on noise. Default 20 ms.</summary>
    public TimeSpan LatencySlack { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>golden_command: run each interval through /bin/sh ({url}: a canary replica's URL, {model}: its model name);
    /// exit 0 passes. Null: no golden check.</summary>
    public string? GoldenCommand { get; init; }

    /// <summary>golden_timeout: a golden command still running after this fails. Default 2 minutes.</summary>
    public TimeSpan GoldenTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>start: auto (the analysis starts when the file is loaded) or manual (POST /admin/models/{name}/canary/start).</summary>
    public bool AutoStart { get; init; } = true;
}

/// <summary>A request-shape rule: prompts of more than <paramref name="PromptTokensOver"/> tokens (estimated) or
/// max_tokens over <paramref name="MaxTokensOver"/> go to the deployments of pool <paramref name="Name"/>.</summary>
public sealed record PoolRule(string Name, int? PromptTokensOver, int? MaxTokensOver);

/// <summary>What a backend is: `sluice` (readiness at /health/ready) or any other OpenAI-compatible server (`openai`, /health).</summary>
public enum BackendKind
{
    Sluice,
    OpenAi,
}

/// <summary>One replica: where it is, the name it knows the model by, its version label and its weight among the version's replicas.</summary>
public sealed record DeploymentConfig(Uri Url, string BackendModel, string Version, int Weight, BackendKind Kind, string? ApiKey)
{
    /// <summary>The backend's id in the admin API and metrics: host:port, and the path when there is one.</summary>
    public string BackendId => BackendIdOf(Url);

    /// <summary>The readiness path probed by the health checker: never a billable completion.</summary>
    public string HealthPath => Kind == BackendKind.Sluice ? "/health/ready" : "/health";

    public static string BackendIdOf(Uri url) => url.Authority + url.AbsolutePath.TrimEnd('/');

    /// <summary>prefill: whether the backend may be asked to continue a final assistant message (a chat stream cut on
    /// another replica); false: a chat continuation there restarts the answer instead. Default true (tried; a backend
    /// that refuses it with a 400 is not asked again).</summary>
    public bool Prefill { get; init; } = true;

    /// <summary>pool: the request-shape pool it serves (a long-context or decode pool); null: the model's default pool.</summary>
    public string? Pool { get; init; }

    /// <summary>rpm: requests per minute this replica may be sent (a fixed one-minute window); null: no limit.</summary>
    public int? Rpm { get; init; }

    /// <summary>input_cost_per_token / output_cost_per_token (LiteLLM's names) in pico-units (10^-12) of the currency
    /// per token, exact; null: not priced.</summary>
    public Tenancy.Spend.Price? Price { get; init; }
}

/// <summary>routing: how replicas of one version are picked.</summary>
public sealed record RoutingSettings
{
    /// <summary>least-outstanding (default: fewest in-flight requests per unit of weight) or weighted-round-robin.</summary>
    public BalancingStrategy Strategy { get; init; } = BalancingStrategy.LeastOutstanding;

    /// <summary>load_scrape: how often each backend's /metrics is read for its waiting queue and KV usage; null (off) by default.</summary>
    public TimeSpan? LoadScrape { get; init; }

    /// <summary>prefix_affinity: requests whose first prefix_chars characters match go to the same replica (load-guarded); null: off.</summary>
    public AffinitySettings? PrefixAffinity { get; init; }

    /// <summary>kv_high: a replica whose KV cache is at least this full is picked only when every other one is too. Default 0.95.</summary>
    public double KvHigh { get; init; } = 0.95;
}

/// <summary>prefix_affinity: how much of the prompt is the prefix, and the load guard (load_factor × the mean load + 1).</summary>
public sealed record AffinitySettings(int PrefixChars, double LoadFactor);

public enum BalancingStrategy
{
    LeastOutstanding,
    WeightedRoundRobin,
}

/// <summary>retry: attempts per request before the response has started (connection errors, 429, 5xx).</summary>
public sealed record RetrySettings
{
    /// <summary>Attempts in all, the first included, each on a backend not tried yet while there is one. Default 3.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>First delay before retrying a 429 without Retry-After on the same backend; doubled each time, with full jitter. Default 250 ms.</summary>
    public TimeSpan Backoff { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Retries of a 429 without Retry-After on the same backend before failing over. Default 2.</summary>
    public int RateLimitedRetries { get; init; } = 2;
}

/// <summary>timeouts: per attempt.</summary>
public sealed record TimeoutSettings
{
    /// <summary>Connecting to a backend. Default 5 s.</summary>
    public TimeSpan Connect { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>No bytes from the backend for this long ends the attempt (headers or body). Default 60 s.</summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A stream whose first token has not come this long after the request was sent goes to another replica. Default: none.</summary>
    public TimeSpan? FirstToken { get; init; }

    /// <summary>A stream that sends nothing for this long once it has started is stalled: it is continued elsewhere. Default 10 s.</summary>
    public TimeSpan StreamIdle { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>health: the active readiness checks.</summary>
public sealed record HealthSettings
{
    /// <summary>Time between two checks of a backend. Default 5 s.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A check slower than this fails. Default 2 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>breaker: the circuit breaker of each backend (passive health).</summary>
public sealed record BreakerSettings
{
    /// <summary>Consecutive failed attempts (connection errors, timeouts, 5xx) that open the circuit. Default 5.</summary>
    public int FailureThreshold { get; init; } = 5;

    /// <summary>How long an open circuit keeps traffic away before one trial request (or a passing check) may close it. Default 10 s.</summary>
    public TimeSpan OpenFor { get; init; } = TimeSpan.FromSeconds(10);
}
