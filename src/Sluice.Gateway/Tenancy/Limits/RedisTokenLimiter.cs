using StackExchange.Redis;

namespace Sluice.Gateway.Tenancy.Limits;

/// <summary>
/// The tokens-per-minute limit fleet-wide: per key a sorted set of admitted entries scored by admission time (Redis's
/// clock, as the rpm log) and a hash of each one's tokens with their running sum (<c>_total</c>), so a check costs the
/// entries that left the window since the last one, not the whole window. Reserving is one atomic Lua script; every
/// replica sharing the Redis sees one window. When the window has room the script grants this gateway a share
/// (<see cref="RedisShares"/>): one entry holding up to 64 requests' worst cases, from which the key's next requests
/// here are admitted without a round trip while it is open. The entry counts its whole share from the start of the share; when the
/// share closes it counts what its requests used (their worst case while they run) and is scored at the last
/// admission, so every admitted token stays in the window at least 60 s after its request's admission: the tokens
/// admitted in any 60 s never exceed the limit. Redis unreachable: the fail mode (closed: 503 naming Redis; open:
/// admitted without a count, logged and counted); an update that fails leaves the share's whole grant in the window
/// until it leaves it.
/// </summary>
public sealed class RedisTokenLimiter : ITokenLimiter, IDisposable
{
    // KEYS[1] the key's entries (member -> admission ms), KEYS[2] their tokens and _total; ARGV limit, window ms, member,
    // tokens, divisor, most requests. Returns {1, total, granted, now} admitted (granted >= tokens: the share) or
    // {0, total, ms until enough tokens leave the window}.
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
          local grant = want
          local spare = math.floor((limit - total) / tonumber(ARGV[5]))
          if spare > grant then
            grant = math.min(spare, want * tonumber(ARGV[6]))
          end
          redis.call('ZADD', KEYS[1], now, ARGV[3])
          redis.call('HSET', KEYS[2], ARGV[3], grant, '_total', total + grant)
          redis.call('PEXPIRE', KEYS[1], window)
          redis.call('PEXPIRE', KEYS[2], window)
          return {1, total, grant, now}
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

    // KEYS[1], KEYS[2] as above; ARGV member, tokens it counts now, admission ms (0: kept), window ms. An entry that already
    // left the window is not brought back.
    private const string UpdateScript = """
        local old = redis.call('HGET', KEYS[2], ARGV[1])
        if not old then
          return 0
        end
        local total = tonumber(redis.call('HGET', KEYS[2], '_total') or '0') + tonumber(ARGV[2]) - tonumber(old)
        redis.call('HSET', KEYS[2], ARGV[1], ARGV[2], '_total', total)
        if tonumber(ARGV[3]) > 0 then
          redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
          redis.call('PEXPIRE', KEYS[1], ARGV[4])
          redis.call('PEXPIRE', KEYS[2], ARGV[4])
        end
        return 1
        """;

    private readonly TenancyRedis _redis;
    private readonly TenancyFailures _failures;
    private readonly OpenShares<Share> _open = new();
    private readonly Timer _sweep;

    public RedisTokenLimiter(TenancyRedis redis, TenancyFailures failures)
    {
        _redis = redis;
        _failures = failures;
        _sweep = new Timer(static state => ((RedisTokenLimiter)state!)._open.Sweep(), this, RedisShares.SweepEvery, RedisShares.SweepEvery);
    }

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
        if (_open.TryGet(key.Id, out var open))
        {
            if (open.TryTake(tokens))
            {
                if (open.Low)
                {
                    Refill(key, limit, tokens);
                }
                return new Reservation(open, tokens); // from this gateway's share: no round trip
            }
            _open.Retire(key.Id, open); // what it holds goes back before the script below looks for room
        }
        RedisResult[] result;
        Share? share;
        try
        {
            (result, share) = await GrantAsync(key, limit, tokens, first: tokens);
        }
        catch (Exception e) when (TenancyRedis.IsUnreachable(e))
        {
            if (_failures.Failed("redis", $"token limit counters ({_redis.Description})", e.Message) is { } refuse)
            {
                throw refuse;
            }
            return null; // fail open: admitted without a count
        }
        if (share is null)
        {
            throw LimitErrors.Tpm(key, tokens, (long)result[1], TimeSpan.FromMilliseconds((long)result[2]));
        }
        if (share.Granted > tokens)
        {
            // the next requests of this key take from it; the share it replaces closes (what it did not use goes back)
            _open.Install(key.Id, share);
        }
        else
        {
            share.Close();
        }
        return new Reservation(share, tokens);
    }

    /// <summary>Asks for the key's next share in the background while the open one still admits (<see cref="OpenShares{TShare}.Refill"/>).</summary>
    private void Refill(VirtualKey key, long limit, long tokens) =>
        _open.Refill(key.Id, async () => (await GrantAsync(key, limit, tokens, first: 0)).Share, share => share.Granted > tokens);

    /// <summary>
    /// One round trip: a share of at least <paramref name="tokens"/> (the first <paramref name="first"/> of them taken by
    /// the caller's request), or null when refused, with the script's answer for the refusal's figures.
    /// </summary>
    private async Task<(RedisResult[] Result, Share? Share)> GrantAsync(VirtualKey key, long limit, long tokens, long first)
    {
        RedisKey[] keys = ["sluice:tpm:" + key.Id, "sluice:tpm:" + key.Id + ":tokens"];
        string member = Guid.NewGuid().ToString("N");
        var result = (RedisResult[])(await _redis.Database.ScriptEvaluateAsync(ReserveScript, keys,
            [limit, (long)LimitErrors.Window.TotalMilliseconds, member, tokens, RedisShares.Divisor, RedisShares.MostRequests]))!;
        return (result, (long)result[0] == 0 ? null : new Share(this, keys, member, (long)result[2], first, (long)result[3]));
    }

    public void Dispose() => _sweep.Dispose();

    /// <summary>
    /// Sends the entry's new count (and admission time) without waiting for Redis's answer: the script is queued on the
    /// connection before this returns, and Redis runs one connection's commands in order, so a reserve this gateway sends
    /// afterwards (the client's next request, sent on seeing this answer) finds the room.
    /// </summary>
    private void Update(RedisKey[] keys, string member, long tokens, long admittedMs)
    {
        Task sent;
        try
        {
            sent = _redis.Database.ScriptEvaluateAsync(UpdateScript, keys, [member, Math.Max(0, tokens), admittedMs, (long)LimitErrors.Window.TotalMilliseconds]);
        }
        catch (Exception e) when (TenancyRedis.IsUnreachable(e))
        {
            sent = Task.FromException(e);
        }
        _ = sent.ContinueWith(static (t, state) =>
        {
            var owner = (RedisTokenLimiter)state!;
            if (t.Exception?.InnerException is { } e && TenancyRedis.IsUnreachable(e))
            {
                owner._failures.Failed("redis", $"token limit counters ({owner._redis.Description})", e.Message);
            }
        }, this, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// One entry in the window and what this gateway admitted from it: while open, requests take their worst case from
    /// what is free and give back what they did not use; once closed, the entry counts what its requests used (their
    /// worst case while they run), scored at its last admission, updated as they end.
    /// </summary>
    private sealed class Share(RedisTokenLimiter owner, RedisKey[] keys, string member, long granted, long first, long grantedAtMs) : IRedisShare
    {
        private readonly Lock _lock = new();
        private readonly long _openedAt = Environment.TickCount64;
        private long _free = granted - first;
        private long _running = first;
        private long _used;
        private long _lastTake = long.MinValue; // none after the grant
        private bool _closed;

        public long Granted => granted;

        public bool Expired => RedisShares.Expired(_openedAt);

        /// <summary>A quarter or less of it free, or half its time gone: time to ask for the next.</summary>
        public bool Low => Volatile.Read(ref _free) * 4 <= granted || RedisShares.HalfGone(_openedAt);

        public bool TryTake(long tokens)
        {
            lock (_lock)
            {
                if (_closed || _free < tokens)
                {
                    return false;
                }
                if (Expired)
                {
                    return false; // the caller retires it (or the sweep closes it)
                }
                _free -= tokens;
                _running += tokens;
                _lastTake = Environment.TickCount64;
                return true;
            }
        }

        public void Close()
        {
            long count, admitted;
            lock (_lock)
            {
                if (_closed)
                {
                    return;
                }
                _closed = true;
                _free = 0;
                bool later = _lastTake != long.MinValue;
                if (_running + _used == granted && !later)
                {
                    return; // one request, still running: the entry already counts its worst case at its admission
                }
                count = _running + _used;
                admitted = later ? grantedAtMs + (_lastTake - _openedAt) : 0;
            }
            owner.Update(keys, member, count, admitted);
        }

        public void Settle(long worst, long used)
        {
            long count;
            lock (_lock)
            {
                _running -= worst;
                _used += used;
                if (!_closed)
                {
                    _free = Math.Max(0, _free + worst - used); // the unused part goes back to the share
                    return;
                }
                count = _running + _used;
            }
            owner.Update(keys, member, count, 0);
        }
    }

    private sealed class Reservation(Share share, long worst) : ITokenReservation
    {
        private int _done;

        public ValueTask SettleAsync(long used)
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                share.Settle(worst, Math.Max(0, used));
            }
            return ValueTask.CompletedTask;
        }
    }
}
