using Sluice.Gateway.Tenancy;
using StackExchange.Redis;

namespace Sluice.Gateway.Caching;

/// <summary>
/// The shared store: one Redis string per answer under <c>namespace:</c> and the key's hex, written with SET ... PX (the
/// TTL; Redis drops it), so every gateway replica on the same Redis answers from the same cache. Its size is Redis's to
/// bound (maxmemory with an LRU policy). Calls throw when Redis is unreachable: <see cref="ResponseCache"/> turns that
/// into a miss.
/// </summary>
internal sealed class RedisCacheStore(TenancyRedis redis, string ns) : ICacheStore
{
    private readonly string _prefix = ns + ":";

    public string Name => "redis";

    public (long Entries, long Bytes)? Size => null;

    private RedisKey KeyOf(UInt128 key) => _prefix + key.ToString("x32", System.Globalization.CultureInfo.InvariantCulture);

    public async ValueTask<CachedAnswer?> GetAsync(UInt128 key)
    {
        var value = await redis.Database.StringGetAsync(KeyOf(key));
        return value.IsNull ? null : CachedAnswer.Deserialize(((ReadOnlyMemory<byte>)value).Span);
    }

    public async ValueTask SetAsync(UInt128 key, CachedAnswer answer, TimeSpan ttl) =>
        await redis.Database.StringSetAsync(KeyOf(key), answer.Serialize(), ttl);

    /// <summary>SCAN for the namespace's keys on every primary and DEL them in batches.</summary>
    public async Task<long> FlushAsync()
    {
        long removed = 0;
        var servers = redis.Connection.GetServers().Where(s => s.IsConnected && !s.IsReplica).ToList();
        if (servers.Count == 0)
        {
            throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, $"{redis.Description} is not connected");
        }
        foreach (var server in servers)
        {
            var batch = new List<RedisKey>(256);
            await foreach (var key in server.KeysAsync(redis.Database.Database, _prefix + "*", pageSize: 500))
            {
                batch.Add(key);
                if (batch.Count == 256)
                {
                    removed += await redis.Database.KeyDeleteAsync([.. batch]);
                    batch.Clear();
                }
            }
            if (batch.Count > 0)
            {
                removed += await redis.Database.KeyDeleteAsync([.. batch]);
            }
        }
        return removed;
    }
}
