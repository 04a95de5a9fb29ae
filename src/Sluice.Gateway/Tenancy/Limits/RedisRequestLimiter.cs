using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Sluice.Gateway.Tenancy.Limits;

/// <summary>
/// The limits fleet-wide, both checked in one atomic Lua script on Redis (one round trip) with Redis's own clock (replicas' clocks may differ):
/// requests per minute as a sliding log (a sorted set of admission times: exact, at most rpm_limit in any 60 s), parallel
/// requests as a sorted set of leases scored by their expiry. A running request renews its lease every
/// <see cref="LeaseFor"/>/3; a gateway killed mid-request stops renewing, so its slots come back after at most
/// <see cref="LeaseFor"/>. Redis unreachable: the fail mode (closed: 503 naming Redis; open: admitted, logged, counted).
/// </summary>
public sealed class RedisRequestLimiter(TenancyRedis redis, TenancyFailures failures) : BackgroundService, IRequestLimiter
{
    public static readonly TimeSpan LeaseFor = TimeSpan.FromSeconds(30);

    // KEYS[1] the key's parallel leases, KEYS[2] its rpm log; ARGV max parallel (0: no limit), lease ms, lease member,
    // rpm limit (0: no limit), window ms, log member. Both checks, then both admissions, atomically: a request refused by one
    // takes nothing from the other. Returns {1, 0} admitted, {0, 0} parallel full, {0, ms until the oldest leaves the window} rpm.
    private const string AdmitScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local parallel = tonumber(ARGV[1])
        local rpm = tonumber(ARGV[4])
        local window = tonumber(ARGV[5])
        if parallel > 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
          if redis.call('ZCARD', KEYS[1]) >= parallel then
            return {0, 0}
          end
        end
        if rpm > 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
          if redis.call('ZCARD', KEYS[2]) >= rpm then
            local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
            return {0, math.max(1, tonumber(oldest[2]) + window - now)}
          end
          redis.call('ZADD', KEYS[2], now, ARGV[6])
          redis.call('PEXPIRE', KEYS[2], window)
        end
        if parallel > 0 then
          redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
          redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
        end
        return {1, 0}
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
        try
        {
            // one round trip for both limits
            var candidate = key.MaxParallelRequests is null ? null : new Lease(this, "sluice:parallel:" + key.Id, Guid.NewGuid().ToString("N"));
            var result = (RedisResult[])(await db.ScriptEvaluateAsync(AdmitScript, ["sluice:parallel:" + key.Id, "sluice:rpm:" + key.Id],
                [key.MaxParallelRequests ?? 0, (long)LeaseFor.TotalMilliseconds, candidate?.Member ?? "", key.RequestsPerMinute ?? 0,
                    (long)LimitErrors.Window.TotalMilliseconds, Guid.NewGuid().ToString("N")]))!;
            if ((long)result[0] == 0)
            {
                throw (long)result[1] == 0 ? LimitErrors.Parallel(key) : LimitErrors.Rpm(key, TimeSpan.FromMilliseconds((long)result[1]));
            }
            if (candidate is null)
            {
                return NoLease.Instance;
            }
            _leases.Hold(candidate.Set, candidate.Member);
            return candidate;
        }
        catch (Exception e) when (TenancyRedis.IsUnreachable(e))
        {
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

        /// <summary>
        /// Gives the slot back without waiting for Redis's answer: the removal is queued on the connection before this
        /// returns, and Redis runs one connection's commands in order, so a request this gateway admits afterwards
        /// (the client's next, sent on seeing this answer) is checked after the slot is free.
        /// </summary>
        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return ValueTask.CompletedTask;
            }
            owner._leases.Release(Set, Member);
            Task removed;
            try
            {
                removed = owner.Redis.Database.SortedSetRemoveAsync(Set, Member);
            }
            catch (Exception e) when (TenancyRedis.IsUnreachable(e))
            {
                removed = Task.FromException(e);
            }
            _ = removed.ContinueWith(static (t, state) =>
            {
                var owner = (RedisRequestLimiter)state!;
                if (t.Exception?.InnerException is { } e && TenancyRedis.IsUnreachable(e))
                {
                    // the lease expires on its own within LeaseFor
                    owner.Failures.Failed("redis", $"parallel request leases ({owner.Redis.Description})", e.Message);
                }
            }, owner, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return ValueTask.CompletedTask;
        }
    }
}
