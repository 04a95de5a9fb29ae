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
