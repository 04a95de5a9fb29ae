using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Sluice.Gateway.Tenancy.Limits;

/// <summary>
/// The limits fleet-wide, both checked in one atomic Lua script on Redis (one round trip) with Redis's own clock (replicas' clocks may differ):
/// requests per minute as a sliding log (a sorted set of admission times: exact, at most rpm_limit in any 60 s), parallel
/// requests as a sorted set of leases scored by their expiry. When a limit has room the script grants this gateway a
/// share of it (<see cref="RedisShares"/>): several log entries and parallel slots at once, from which the key's next
/// requests here are admitted without a round trip while the share is open. An entry counts as an admission from the
/// grant on; when the share closes, the entries it did not use are removed and each used one is scored at its request's
/// admission, so the log stays exact. A running request renews its lease every <see cref="LeaseFor"/>/3; a gateway
/// killed mid-request stops renewing, so its slots come back after at most <see cref="LeaseFor"/>. Redis unreachable:
/// the fail mode (closed: 503 naming Redis; open: admitted, logged, counted).
/// </summary>
public sealed class RedisRequestLimiter(TenancyRedis redis, TenancyFailures failures) : BackgroundService, IRequestLimiter
{
    public static readonly TimeSpan LeaseFor = TimeSpan.FromSeconds(30);

    // KEYS[1] the key's parallel leases, KEYS[2] its rpm log; ARGV max parallel (0: no limit), lease ms, lease member prefix,
    // rpm limit (0: no limit), window ms, log member prefix, divisor, most requests. Both checks, then both admissions,
    // atomically: a request refused by one takes nothing from the other. Each limit with room grants a share: members
    // prefix:1 .. prefix:n. Returns {1, 0, parallel granted, rpm granted, now} admitted, {0, 0} parallel full, {0, ms until
    // the oldest leaves the window} rpm.
    private const string AdmitScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local parallel = tonumber(ARGV[1])
        local rpm = tonumber(ARGV[4])
        local window = tonumber(ARGV[5])
        local div = tonumber(ARGV[7])
        local most = tonumber(ARGV[8])
        local kp, kr = 0, 0
        if parallel > 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
          local used = redis.call('ZCARD', KEYS[1])
          if used >= parallel then
            return {0, 0}
          end
          kp = math.max(1, math.min(most, math.floor((parallel - used) / div)))
        end
        if rpm > 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
          local used = redis.call('ZCARD', KEYS[2])
          if used >= rpm then
            local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
            return {0, math.max(1, tonumber(oldest[2]) + window - now)}
          end
          kr = math.max(1, math.min(most, math.floor((rpm - used) / div)))
          for i = 1, kr do
            redis.call('ZADD', KEYS[2], now, ARGV[6] .. ':' .. i)
          end
          redis.call('PEXPIRE', KEYS[2], window)
        end
        if parallel > 0 then
          for i = 1, kp do
            redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3] .. ':' .. i)
          end
          redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
        end
        return {1, 0, kp, kr, now}
        """;

    // KEYS[1] the parallel leases, KEYS[2] the rpm log; ARGV n (log entries used), m (log entries unused), then n pairs
    // (entry, admission ms) rescored where still there, m entries removed, and the rest: parallel slots removed.
    private const string CloseScript = """
        local n = tonumber(ARGV[1])
        local m = tonumber(ARGV[2])
        local i = 3
        for _ = 1, n do
          redis.call('ZADD', KEYS[2], 'XX', ARGV[i + 1], ARGV[i])
          i = i + 2
        end
        for _ = 1, m do
          redis.call('ZREM', KEYS[2], ARGV[i])
          i = i + 1
        end
        while i <= #ARGV do
          redis.call('ZREM', KEYS[1], ARGV[i])
          i = i + 1
        end
        return 0
        """;

    private readonly RedisLeases _leases = new(redis, failures, "parallel request leases");

    /// <summary>Per key, the share this gateway admits its next requests from.</summary>
    private readonly OpenShares<Share> _open = new();

    private TenancyRedis Redis => redis;

    private TenancyFailures Failures => failures;

    public async ValueTask<IRequestLease> AcquireAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        if (key.MaxParallelRequests is null && key.RequestsPerMinute is null)
        {
            return NoLease.Instance;
        }
        if (_open.TryGet(key.Id, out var open))
        {
            if (open.TryTake(key) is { } taken)
            {
                if (open.Low)
                {
                    Refill(key);
                }
                return taken; // from this gateway's share: no round trip
            }
            _open.Retire(key.Id, open); // what it holds goes back before the script below looks for room
        }
        try
        {
            var (share, retryAfterMs) = await GrantAsync(key);
            if (share is null)
            {
                throw retryAfterMs == 0 ? LimitErrors.Parallel(key) : LimitErrors.Rpm(key, TimeSpan.FromMilliseconds(retryAfterMs));
            }
            var lease = share.TakeFirst();
            if (share.Shared)
            {
                _open.Install(key.Id, share); // the next requests of this key take from it
            }
            else
            {
                share.Close();
            }
            return lease;
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

    /// <summary>
    /// One round trip for both limits: the share granted, or null when refused, with the rpm refusal's wait in
    /// milliseconds (0: the parallel limit is full).
    /// </summary>
    private async Task<(Share? Share, long RetryAfterMs)> GrantAsync(VirtualKey key)
    {
        string parallelSet = "sluice:parallel:" + key.Id, rpmLog = "sluice:rpm:" + key.Id;
        string prefix = Guid.NewGuid().ToString("N");
        var result = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(AdmitScript, [parallelSet, rpmLog],
            [key.MaxParallelRequests ?? 0, (long)LeaseFor.TotalMilliseconds, prefix + "p", key.RequestsPerMinute ?? 0,
                (long)LimitErrors.Window.TotalMilliseconds, prefix + "r", RedisShares.Divisor, RedisShares.MostRequests]))!;
        if ((long)result[0] == 0)
        {
            return (null, (long)result[1]);
        }
        return (new Share(this, parallelSet, rpmLog, prefix, (int)(long)result[2], (int)(long)result[3], (long)result[4]), 0);
    }

    /// <summary>Asks for the key's next share in the background while the open one still admits (<see cref="OpenShares{TShare}.Refill"/>).</summary>
    private void Refill(VirtualKey key) => _open.Refill(key.Id, async () => (await GrantAsync(key)).Share, share => share.Shared);

    /// <summary>Renews the leases of the requests running here, so a long stream keeps its slot and a dead gateway's slots expire; closes idle shares.</summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_leases.RenewAsync(LeaseFor, expireSets: true, stoppingToken), _open.SweepAsync(stoppingToken));

    /// <summary>
    /// Sends a script without waiting for Redis's answer: it is queued on the connection before this returns, and Redis
    /// runs one connection's commands in order, so a request this gateway admits afterwards (the client's next, sent on
    /// seeing this answer) is checked after it.
    /// </summary>
    private void Send(Func<IDatabase, Task> send)
    {
        Task sent;
        try
        {
            sent = send(redis.Database);
        }
        catch (Exception e) when (TenancyRedis.IsUnreachable(e))
        {
            sent = Task.FromException(e);
        }
        _ = sent.ContinueWith(static (t, state) =>
        {
            var owner = (RedisRequestLimiter)state!;
            if (t.Exception?.InnerException is { } e && TenancyRedis.IsUnreachable(e))
            {
                // a slot expires on its own within LeaseFor; an unused log entry leaves the window within a minute
                owner.Failures.Failed("redis", $"rate limit counters ({owner.Redis.Description})", e.Message);
            }
        }, this, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// The log entries and parallel slots one script granted, and what this gateway admitted from them. While open, a
    /// request takes an entry (kept) and a slot (back in the share when it ends); once closed, the unused entries and free
    /// slots are removed, the used entries scored at their admissions, and a slot still running is removed when it ends.
    /// </summary>
    private sealed class Share : IRedisShare
    {
        private readonly Lock _lock = new();
        private readonly RedisRequestLimiter _owner;
        private readonly string _parallelSet;
        private readonly string _rpmLog;
        private readonly string[] _entries;
        private readonly long[] _takenAt;
        private readonly Stack<string> _free = new();
        private readonly long _openedAt = Environment.TickCount64;
        private readonly long _grantedAtMs;
        private int _next;
        private bool _closed;

        public Share(RedisRequestLimiter owner, string parallelSet, string rpmLog, string prefix, int slots, int entries, long grantedAtMs)
        {
            (_owner, _parallelSet, _rpmLog, _grantedAtMs) = (owner, parallelSet, rpmLog, grantedAtMs);
            _entries = [.. Enumerable.Range(1, entries).Select(i => $"{prefix}r:{i}")];
            _takenAt = new long[entries];
            for (int i = slots; i >= 1; i--)
            {
                string slot = $"{prefix}p:{i}";
                _free.Push(slot);
                owner._leases.Hold(parallelSet, slot);
            }
            Slots = slots;
        }

        private int Slots { get; }

        /// <summary>A quarter or less of its entries or slots left, or half its time gone: time to ask for the next.</summary>
        public bool Low
        {
            get
            {
                lock (_lock)
                {
                    return (_entries.Length > 0 && (_entries.Length - _next) * 4 <= _entries.Length) || (Slots > 0 && _free.Count * 4 <= Slots)
                        || RedisShares.HalfGone(_openedAt);
                }
            }
        }

        /// <summary>Whether it holds more than one request's worth: then it admits the key's next requests.</summary>
        public bool Shared => _entries.Length > 1 || Slots > 1;

        public bool Expired => RedisShares.Expired(_openedAt);

        /// <summary>The request the script admitted.</summary>
        public IRequestLease TakeFirst()
        {
            lock (_lock)
            {
                return TakeLocked(_openedAt); // admitted at the grant
            }
        }

        /// <summary>A request admitted from the share, or null when it is closed or lacks an entry or slot the key needs.</summary>
        public IRequestLease? TryTake(VirtualKey key)
        {
            lock (_lock)
            {
                if (_closed || Expired || (key.RequestsPerMinute is not null && _next >= _entries.Length)
                    || (key.MaxParallelRequests is not null && _free.Count == 0)
                    || (key.RequestsPerMinute is null) != (_entries.Length == 0) || (key.MaxParallelRequests is null) != (Slots == 0))
                {
                    return null;
                }
                return TakeLocked(Environment.TickCount64);
            }
        }

        private IRequestLease TakeLocked(long now)
        {
            if (_next < _entries.Length)
            {
                _takenAt[_next++] = now;
            }
            return _free.TryPop(out var slot) ? new Lease(this, slot) : NoLease.Instance;
        }

        public void Close()
        {
            var args = new List<RedisValue>();
            lock (_lock)
            {
                if (_closed)
                {
                    return;
                }
                _closed = true;
                int rescored = 0;
                args.Add(0);
                args.Add(_entries.Length - _next);
                for (int i = 0; i < _next; i++)
                {
                    long admitted = _grantedAtMs + (_takenAt[i] - _openedAt);
                    if (admitted > _grantedAtMs)
                    {
                        args.Add(_entries[i]);
                        args.Add(admitted);
                        rescored++;
                    }
                }
                args[0] = rescored;
                for (int i = _next; i < _entries.Length; i++)
                {
                    args.Add(_entries[i]);
                }
                while (_free.TryPop(out var slot))
                {
                    _owner._leases.Release(_parallelSet, slot);
                    args.Add(slot);
                }
                if (args.Count == 2)
                {
                    return; // every entry used at the grant and no slot free: nothing to give back
                }
                RedisKey[] keys = [_parallelSet, _rpmLog];
                RedisValue[] values = [.. args];
                _owner.Send(db => db.ScriptEvaluateAsync(CloseScript, keys, values));
            }
        }

        /// <summary>A request's slot ends: back in the share while it is open, removed from Redis once it is closed.</summary>
        public void Return(string slot)
        {
            lock (_lock)
            {
                if (!_closed)
                {
                    _free.Push(slot);
                    return;
                }
            }
            _owner._leases.Release(_parallelSet, slot);
            _owner.Send(db => db.SortedSetRemoveAsync(_parallelSet, slot));
        }
    }

    private sealed class Lease(Share share, string slot) : IRequestLease
    {
        private int _done;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                share.Return(slot);
            }
            return ValueTask.CompletedTask;
        }
    }
}
