using StackExchange.Redis;

namespace Sluice.Gateway.Tenancy.Limits;

/// <summary>
/// The tokens-per-minute limit fleet-wide: per key a sorted set of admitted requests scored by admission time (Redis's
/// clock, as the rpm log) and a hash of each one's tokens with their running sum (<c>_total</c>), so a check costs the
/// entries that left the window since the last one, not the whole window. Reserving and settling are each one atomic
/// Lua script; every replica sharing the Redis sees one window. Redis unreachable: the fail mode (closed: 503 naming
/// Redis; open: admitted without a count, logged and counted); a settle that fails leaves the worst case in the window
/// until it leaves it.
/// </summary>
public sealed class RedisTokenLimiter(TenancyRedis redis, TenancyFailures failures) : ITokenLimiter
{
    // KEYS[1] the key's entries (member -> admission ms), KEYS[2] their tokens and _total; ARGV limit, window ms, member, tokens.
    // Returns {1, total} admitted or {0, total, ms until enough tokens leave the window}.
    private const string ReserveScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local window = tonumber(ARGV[2])
        local total = tonumber(redis.call('HGET', KEYS[2], '_total') or '0')
        local left = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)
        for i = 1, #left do
          total = total - tonumber(redis.call('HGET', KEYS[2], left[i]) or '0')
          redis.call('HDEL', KEYS[2], left[i])
        end
        if #left > 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
        end
        if total < 0 or redis.call('ZCARD', KEYS[1]) == 0 then
          total = 0
        end
        local want = tonumber(ARGV[4])
        local limit = tonumber(ARGV[1])
        if total + want <= limit then
          redis.call('ZADD', KEYS[1], now, ARGV[3])
          redis.call('HSET', KEYS[2], ARGV[3], want, '_total', total + want)
          redis.call('PEXPIRE', KEYS[1], window)
          redis.call('PEXPIRE', KEYS[2], window)
          return {1, total}
        end
        redis.call('HSET', KEYS[2], '_total', total)
        redis.call('PEXPIRE', KEYS[2], window)
        local excess = total + want - limit
        local freed = 0
        local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
        for i = 1, #entries, 2 do
          freed = freed + tonumber(redis.call('HGET', KEYS[2], entries[i]) or '0')
          if freed >= excess then
            return {0, total, tonumber(entries[i + 1]) + window - now}
          end
        end
        return {0, total, window}
        """;

    // KEYS[2] as above; ARGV member, tokens used. The entry (while still in the window) now counts what the request used.
    private const string SettleScript = """
        local old = redis.call('HGET', KEYS[2], ARGV[1])
        if not old then
          return 0
        end
        local total = tonumber(redis.call('HGET', KEYS[2], '_total') or '0') + tonumber(ARGV[2]) - tonumber(old)
        redis.call('HSET', KEYS[2], ARGV[1], ARGV[2], '_total', total)
        return 1
        """;

    private TenancyRedis Redis => redis;

    private TenancyFailures Failures => failures;

    public async ValueTask<ITokenReservation?> ReserveAsync(VirtualKey key, long tokens, long promptTokens, CancellationToken cancellationToken)
    {
        if (key.TokensPerMinute is not { } limit)
        {
            return null;
        }
        if (tokens > limit)
        {
            throw LimitErrors.NeverFits(key, tokens, promptTokens);
        }
        RedisKey[] keys = ["sluice:tpm:" + key.Id, "sluice:tpm:" + key.Id + ":tokens"];
        string member = Guid.NewGuid().ToString("N");
        RedisResult[] result;
        try
        {
            result = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(ReserveScript, keys,
                [limit, (long)LimitErrors.Window.TotalMilliseconds, member, tokens]))!;
        }
        catch (Exception e) when (TenancyRedis.IsUnreachable(e))
        {
            if (failures.Failed("redis", $"token limit counters ({redis.Description})", e.Message) is { } refuse)
            {
                throw refuse;
            }
            return null; // fail open: admitted without a count
        }
        if ((long)result[0] == 0)
        {
            throw LimitErrors.Tpm(key, tokens, (long)result[1], TimeSpan.FromMilliseconds((long)result[2]));
        }
        return new Reservation(this, keys, member);
    }

    private sealed class Reservation(RedisTokenLimiter owner, RedisKey[] keys, string member) : ITokenReservation
    {
        private int _done;

        /// <summary>
        /// Settles without waiting for Redis's answer: the script is queued on the connection before this returns, and
        /// Redis runs one connection's commands in order, so a reserve this gateway sends afterwards (the client's next
        /// request, sent on seeing this answer) finds the room.
        /// </summary>
        public ValueTask SettleAsync(long used)
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return ValueTask.CompletedTask;
            }
            Task settled;
            try
            {
                settled = owner.Redis.Database.ScriptEvaluateAsync(SettleScript, keys, [member, Math.Max(0, used)]);
            }
            catch (Exception e) when (TenancyRedis.IsUnreachable(e))
            {
                settled = Task.FromException(e);
            }
            _ = settled.ContinueWith(static (t, state) =>
            {
                var owner = (RedisTokenLimiter)state!;
                if (t.Exception?.InnerException is { } e && TenancyRedis.IsUnreachable(e))
                {
                    owner.Failures.Failed("redis", $"token limit counters ({owner.Redis.Description})", e.Message);
                }
            }, owner, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return ValueTask.CompletedTask;
        }
    }
}
