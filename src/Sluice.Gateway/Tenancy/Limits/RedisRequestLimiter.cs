using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Sluice.Gateway.Tenancy.Limits;

/// <summary>
/// The limits fleet-wide, each check one atomic Lua script on Redis with Redis's own clock (replicas' clocks may differ):
/// requests per minute as a sliding log (a sorted set of admission times: exact, at most rpm_limit in any 60 s), parallel
/// requests as a sorted set of leases scored by their expiry. A running request renews its lease every
/// <see cref="LeaseFor"/>/3; a gateway killed mid-request stops renewing, so its slots come back after at most
/// <see cref="LeaseFor"/>. Redis unreachable: the fail mode (closed: 503 naming Redis; open: admitted, logged, counted).
/// </summary>
public sealed class RedisRequestLimiter(TenancyRedis redis, TenancyFailures failures) : BackgroundService, IRequestLimiter
{
    public static readonly TimeSpan LeaseFor = TimeSpan.FromSeconds(30);

    // KEYS[1] the key's log; ARGV limit, window ms, member. Returns {1, 0} admitted or {0, ms until the oldest leaves the window}.
    private const string RpmScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local window = tonumber(ARGV[2])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
        if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
          redis.call('ZADD', KEYS[1], now, ARGV[3])
          redis.call('PEXPIRE', KEYS[1], window)
          return {1, 0}
        end
        local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
        return {0, tonumber(oldest[2]) + window - now}
        """;

    // KEYS[1] the key's leases; ARGV max, lease ms, member. Returns 1 admitted, 0 full.
    private const string AcquireScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
          redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
          redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
          return 1
        end
        return 0
        """;

    private readonly RedisLeases _leases = new(redis, failures, "parallel request leases");

    private TenancyRedis Redis => redis;

    private TenancyFailures Failures => failures;

    public async ValueTask<IRequestLease> AcquireAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        if (key.MaxParallelRequests is null && key.RequestsPerMinute is null)
        {
            return NoLease.Instance;
        }
        var db = redis.Database;
        Lease? lease = null;
        try
        {
            if (key.MaxParallelRequests is { } parallel)
            {
                var candidate = new Lease(this, "sluice:parallel:" + key.Id, Guid.NewGuid().ToString("N"));
                long admitted = (long)await db.ScriptEvaluateAsync(AcquireScript, [candidate.Set], [parallel, (long)LeaseFor.TotalMilliseconds, candidate.Member]);
                if (admitted == 0)
                {
                    throw LimitErrors.Parallel(key);
                }
                lease = candidate;
                _leases.Hold(lease.Set, lease.Member);
            }
            if (key.RequestsPerMinute is { } rpm)
            {
                var result = (RedisResult[])(await db.ScriptEvaluateAsync(RpmScript, ["sluice:rpm:" + key.Id],
                    [rpm, (long)LimitErrors.Window.TotalMilliseconds, Guid.NewGuid().ToString("N")]))!;
                if ((long)result[0] == 0)
                {
                    if (lease is not null)
                    {
                        await lease.DisposeAsync();
                    }
                    throw LimitErrors.Rpm(key, TimeSpan.FromMilliseconds((long)result[1]));
                }
            }
            return (IRequestLease?)lease ?? NoLease.Instance;
        }
        catch (Exception e) when (TenancyRedis.IsUnreachable(e))
        {
            if (lease is not null)
            {
                _leases.Release(lease.Set, lease.Member);
            }
            if (failures.Failed("redis", $"rate limit counters ({redis.Description})", e.Message) is { } refuse)
            {
                throw refuse;
            }
            return NoLease.Instance; // fail open: admitted without a count
        }
    }

    /// <summary>Renews the leases of the requests running here, so a long stream keeps its slot and a dead gateway's slots expire.</summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _leases.RenewAsync(LeaseFor, expireSets: true, stoppingToken);

    private sealed class Lease(RedisRequestLimiter owner, string set, string member) : IRequestLease
    {
        private int _done;

        public string Set { get; } = set;

        public string Member { get; } = member;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return;
            }
            owner._leases.Release(Set, Member);
            try
            {
                await owner.Redis.Database.SortedSetRemoveAsync(Set, Member);
            }
            catch (Exception e) when (TenancyRedis.IsUnreachable(e))
            {
                // the lease expires on its own within LeaseFor
                owner.Failures.Failed("redis", $"parallel request leases ({owner.Redis.Description})", e.Message);
            }
        }
    }
}
