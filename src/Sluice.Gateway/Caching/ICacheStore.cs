namespace Sluice.Gateway.Caching;

/// <summary>Where cached answers are kept: <see cref="MemoryCacheStore"/> or <see cref="RedisCacheStore"/>. Keys are the
/// 128-bit request hashes of <see cref="CacheRequest.Key"/>.</summary>
internal interface ICacheStore
{
    /// <summary>memory or redis: the store label of the metrics.</summary>
    string Name { get; }

    /// <summary>The answer stored under <paramref name="key"/> and not expired; null: a miss.</summary>
    ValueTask<CachedAnswer?> GetAsync(UInt128 key);

    /// <summary>Stores <paramref name="answer"/> for <paramref name="ttl"/>.</summary>
    ValueTask SetAsync(UInt128 key, CachedAnswer answer, TimeSpan ttl);

    /// <summary>Removes every entry of this gateway's cache (its namespace in Redis); how many there were.</summary>
    Task<long> FlushAsync();

    /// <summary>Entries and bytes held, when the store knows them at no cost (memory); null for Redis.</summary>
    (long Entries, long Bytes)? Size { get; }
}
