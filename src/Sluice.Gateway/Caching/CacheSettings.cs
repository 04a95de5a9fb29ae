namespace Sluice.Gateway.Caching;

/// <summary>Where cached answers live: this process's memory (the default) or a Redis every gateway replica shares.</summary>
public enum CacheStoreKind
{
    Memory,
    Redis,
}

/// <summary>How an answer served from the cache is billed (with tenancy spend on).</summary>
public enum CacheBilling
{
    /// <summary>A usage row with the tokens and cost 0, flagged as a cache hit. The default.</summary>
    Free,

    /// <summary>The cost the answer had when it was generated.</summary>
    Full,

    /// <summary>That cost times <see cref="CacheSettings.Rate"/>.</summary>
    Rate,
}

/// <summary>
/// cache: the response cache for deterministic requests (docs/gateway.md, "Response cache"). Read at start; a reload that
/// changes it is refused (restart the gateway).
/// </summary>
public sealed record CacheSettings
{
    /// <summary>type: memory (default) or redis.</summary>
    public CacheStoreKind Type { get; init; } = CacheStoreKind.Memory;

    /// <summary>redis: a StackExchange.Redis configuration; default tenancy.redis. Required with type redis.</summary>
    public string? Redis { get; init; }

    /// <summary>ttl: how long an answer is served from the cache. Default 10 minutes.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>max_size: memory only: the bytes of cached answers kept, least recently used evicted first. Default 256 MiB.</summary>
    public long MaxSize { get; init; } = 256L << 20;

    /// <summary>max_entry_size: a larger answer is not stored. Default 1 MiB.</summary>
    public long MaxEntrySize { get; init; } = 1L << 20;

    /// <summary>billing: free (default), full or rate.</summary>
    public CacheBilling Billing { get; init; } = CacheBilling.Free;

    /// <summary>rate: the multiplier of billing: rate (0 to 1000).</summary>
    public decimal Rate { get; init; } = 1m;

    /// <summary>namespace: redis only: the key prefix (namespace:), so gateways of different fleets can share one Redis. Default sluice-cache.</summary>
    public string Namespace { get; init; } = "sluice-cache";

    /// <summary>The multiplier applied to the original cost of an answer served from the cache.</summary>
    public decimal CostFactor => Billing switch
    {
        CacheBilling.Free => 0m,
        CacheBilling.Full => 1m,
        _ => Rate,
    };
}
