using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// Budget counters in Redis, shared by every gateway replica: per counter a hash <c>sluice:budget:{id}</c> (spent,
/// reserved, seeded) and a sorted set <c>…:res</c> of reservations (<c>uuid:worst</c>) scored by their expiry on
/// Redis's clock. Reserving is one Lua script that drops expired reservations, checks spent + reserved against the limit
/// and reserves, atomically, so the fleet together overshoots a budget by at most one request's reservation. A running
/// request's reservations are renewed every <see cref="LeaseFor"/>/3; a gateway killed mid-request stops renewing, so
/// what it reserved comes back after at most <see cref="LeaseFor"/>. A missing counter is first marked (settlements
/// from then on add to it), then seeded with the spend log's SUM by whichever replica gets there first. A counter this
/// gateway could not reach while requests went on (fail_mode open, a settle lost) is seeded again on its next use, so an
/// outage does not leave it short of what those requests spent.
/// Amounts stay integers in Redis (HINCRBY, 64-bit); the admission comparison is made in Lua's doubles, exact up to
/// 2^53 (9,007 currency units in pico-units) and within a few pico-units above.
/// </summary>
public sealed class RedisBudgetCounters(TenancyRedis redis, TenancyFailures failures) : BackgroundService, IBudgetCounters
{
    /// <summary>How long a reservation lives without renewal.</summary>
    public TimeSpan LeaseFor { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long an unused counter stays in Redis (then it is seeded again from the spend log).</summary>
    public static readonly TimeSpan KeepFor = TimeSpan.FromDays(2);

    // KEYS[1] counter, KEYS[2] reservations; ARGV limit, worst, member (its id; ':' and the amount held are appended),
    // lease ms, keep ms, divisor, most requests. Returns {-1} (not seeded: seed it), {0, spent, reserved} refused,
    // {1, spent, reserved, granted} reserved (granted >= worst: this gateway's share).
    private const string ReserveScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        if redis.call('HGET', KEYS[1], 'seeded') ~= '1' then
          if redis.call('EXISTS', KEYS[1]) == 0 then
            redis.call('HSET', KEYS[1], 'spent', 0, 'reserved', 0, 'seeded', 0)
            redis.call('PEXPIRE', KEYS[1], ARGV[5])
            redis.call('DEL', KEYS[2])
          end
          return {-1}
        end
        local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
        for _, m in ipairs(expired) do
          redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. string.match(m, ':(%d+)$'))
        end
        if #expired > 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        end
        local spent = redis.call('HGET', KEYS[1], 'spent')
        local reserved = redis.call('HGET', KEYS[1], 'reserved')
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
        if tonumber(spent) + tonumber(reserved) >= tonumber(ARGV[1]) then
          return {0, spent, reserved}
        end
        local grant = tonumber(ARGV[2])
        local spare = math.floor((tonumber(ARGV[1]) - tonumber(spent) - tonumber(reserved)) / tonumber(ARGV[6]))
        if spare > grant then
          grant = math.min(spare, grant * tonumber(ARGV[7]))
        end
        local g = string.format('%d', grant)
        redis.call('HINCRBY', KEYS[1], 'reserved', g)
        redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3] .. ':' .. g)
        redis.call('PEXPIRE', KEYS[2], ARGV[5])
        return {1, spent, reserved, g}
        """;

    // KEYS[1] counter; ARGV the spend log's sum. Only the first seed of a marked counter counts.
    private const string SeedScript = """
        if redis.call('HGET', KEYS[1], 'seeded') == '0' then
          redis.call('HINCRBY', KEYS[1], 'spent', ARGV[1])
          redis.call('HSET', KEYS[1], 'seeded', 1)
          return 1
        end
        return 0
        """;

    // KEYS[1] counter, KEYS[2] reservations; ARGV member, amount it held, spent to add, new member ('' none), amount it
    // holds, lease ms. The reservation is replaced by the new one (while it was still held: an expired one is not brought
    // back) and the spend added.
    private const string UpdateScript = """
        local held = redis.call('ZREM', KEYS[2], ARGV[1])
        if redis.call('EXISTS', KEYS[1]) == 1 then
          if held == 1 then
            redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. ARGV[2])
            if ARGV[4] ~= '' then
              local t = redis.call('TIME')
              redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[5])
              redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[6]), ARGV[4])
            end
          end
          redis.call('HINCRBY', KEYS[1], 'spent', ARGV[3])
        end
        return held
        """;

    // KEYS[1] counter: seeded again (spent from the spend log; the reservations in flight stay).
    private const string ResetScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then
          redis.call('HSET', KEYS[1], 'spent', 0, 'seeded', 0)
        end
        return 0
        """;

    private readonly RedisLeases _leases = new(redis, failures, "budget counters");

    /// <summary>Counters this gateway could not reach while requests went on (served open, or not settled): their spent may lack those requests, so they are seeded again from the spend log on their next use.</summary>
    private readonly ConcurrentDictionary<string, byte> _stale = new(StringComparer.Ordinal);

    /// <summary>Per counter, the share this gateway admits its next requests from.</summary>
    private readonly OpenShares<Share> _open = new();

    /// <summary>Shares by id, until the last of their requests has settled.</summary>
    private readonly ConcurrentDictionary<string, Share> _shares = new(StringComparer.Ordinal);

    public string Description => redis.Description;

    /// <summary>Marks the counter as one whose spent may lack requests (as an unreachable Redis does): its next use seeds it again.</summary>
    internal void MarkStale(BudgetCounterId id) => _stale[Counter(id)] = 0;

    private static string Counter(BudgetCounterId id) => "sluice:budget:" + id;

    private static string Reservations(BudgetCounterId id) => "sluice:budget:" + id + ":res";

    public async Task<BudgetAnswer> ReserveAsync(BudgetCounterId id, long limit, long worst, Func<CancellationToken, Task<long>> seed,
        CancellationToken cancellationToken)
    {
        string counter = Counter(id);
        if (_open.TryGet(counter, out var open))
        {
            if (!_stale.ContainsKey(counter) && open.TryTake(worst) is { } taken)
            {
                if (open.Low)
                {
                    Refill(id, limit, worst);
                }
                return new BudgetAnswer(true, open.SpentSeen, open.ReservedSeen, taken); // from this gateway's share: no round trip
            }
            _open.Retire(counter, open); // what it holds goes back before the script below looks for room
        }
        for (int attempt = 0; ; attempt++)
        {
            (long State, long Spent, long Reserved, Share? Share) grant;
            try
            {
                if (_stale.TryRemove(counter, out _))
                {
                    await redis.Database.ScriptEvaluateAsync(ResetScript, [counter]);
                }
                grant = await GrantAsync(id, limit, worst, first: worst);
            }
            catch (Exception e) when (TenancyRedis.IsUnreachable(e))
            {
                _stale[counter] = 0;
                throw new BudgetStoreException("redis", $"budget counters ({redis.Description})", e);
            }
            var (state, spent, reserved, share) = grant;
            if (state >= 0)
            {
                if (share is null)
                {
                    return new BudgetAnswer(false, spent, reserved, null);
                }
                if (share.Granted > worst)
                {
                    _open.Install(counter, share); // the next requests on this counter take from it
                }
                else
                {
                    share.Close();
                }
                return new BudgetAnswer(true, spent, reserved, share.First);
            }
            if (attempt == 3)
            {
                throw new BudgetStoreException("redis", $"budget counters ({redis.Description})",
                    new InvalidOperationException($"the counter {id} was not seeded after {attempt} tries"));
            }
            long sum = await seed(cancellationToken);
            try
            {
                await redis.Database.ScriptEvaluateAsync(SeedScript, [counter], [sum]);
            }
            catch (Exception e) when (TenancyRedis.IsUnreachable(e))
            {
                throw new BudgetStoreException("redis", $"budget counters ({redis.Description})", e);
            }
        }
    }

    /// <summary>Asks for the counter's next share in the background while the open one still admits (<see cref="OpenShares{TShare}.Refill"/>).</summary>
    private void Refill(BudgetCounterId id, long limit, long worst)
    {
        string counter = Counter(id);
        // refused, or the counter needs seeding: no share, and the next request that finds no room asks Redis itself
        _open.Refill(counter, async () => (await GrantAsync(id, limit, worst, first: 0)).Share,
            share => share.Granted > worst && !_stale.ContainsKey(counter));
    }

    /// <summary>
    /// One round trip: the script's state (-1: the counter needs seeding, 0: refused, 1: granted), the spent and reserved
    /// it saw, and the share granted (the first <paramref name="first"/> of it taken by the caller's request), kept by id
    /// and its reservation renewed until its last request settles.
    /// </summary>
    private async Task<(long State, long Spent, long Reserved, Share? Share)> GrantAsync(BudgetCounterId id, long limit, long worst, long first)
    {
        string uuid = Guid.NewGuid().ToString("N");
        RedisKey[] keys = [Counter(id), Reservations(id)];
        var result = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(ReserveScript, keys,
            [limit, worst, uuid, (long)LeaseFor.TotalMilliseconds, (long)KeepFor.TotalMilliseconds, RedisShares.Divisor, RedisShares.MostRequests]))!;
        long state = (long)result[0];
        if (state < 0)
        {
            return (state, 0, 0, null);
        }
        long spent = long.Parse((string)result[1]!, CultureInfo.InvariantCulture);
        long reserved = long.Parse((string)result[2]!, CultureInfo.InvariantCulture);
        if (state == 0)
        {
            return (state, spent, reserved, null);
        }
        var share = new Share(this, keys, uuid, long.Parse((string)result[3]!, CultureInfo.InvariantCulture), first, spent, reserved);
        _shares[uuid] = share;
        _leases.Hold(keys[1]!, share.Member);
        return (state, spent, reserved, share);
    }

    public Task SettleAsync(BudgetCounterId id, string reservation, long worst, long actual)
    {
        int hash = reservation.IndexOf('#', StringComparison.Ordinal);
        return hash > 0 && _shares.TryGetValue(reservation[..hash], out var share) ? share.SettleAsync(worst, actual) : Task.CompletedTask;
    }

    /// <summary>Sends a share's new reservation and the spend to add; a Redis that cannot be reached marks the counter stale (seeded again on its next use).</summary>
    private async Task UpdateAsync(Task sent, RedisKey counter)
    {
        try
        {
            await sent;
        }
        catch (Exception e) when (TenancyRedis.IsUnreachable(e))
        {
            // the reservation expires on its own; the spend is in the spend log, where the re-seeded counter finds it
            _stale[(string)counter!] = 0;
            failures.Failed("redis", $"budget counters ({redis.Description})", e.Message);
        }
    }

    private Task Send(RedisKey[] keys, string member, long held, long spent, string next, long holds)
    {
        try
        {
            return redis.Database.ScriptEvaluateAsync(UpdateScript, keys, [member, held, spent, next, holds, (long)LeaseFor.TotalMilliseconds]);
        }
        catch (Exception e) when (TenancyRedis.IsUnreachable(e))
        {
            return Task.FromException(e);
        }
    }

    /// <summary>
    /// One reservation in Redis (<c>id:held</c>) and what this gateway admitted from it. While open, requests take their
    /// worst case from what is free and give back what they did not cost. Once closed, the reservation is replaced by one
    /// holding the worst cases of its requests still running, and the cost of those that ended is added to spent; each
    /// that ends later does the same, until none is left and the reservation is gone.
    /// </summary>
    private sealed class Share : IRedisShare
    {
        private readonly Lock _lock = new();
        private readonly RedisBudgetCounters _owner;
        private readonly RedisKey[] _keys;
        private readonly string _id;
        private readonly long _openedAt = Environment.TickCount64;
        private long _held;
        private long _free;
        private long _running;
        private long _cost;
        private int _taken;
        private int _version;
        private bool _closed;

        public Share(RedisBudgetCounters owner, RedisKey[] keys, string id, long granted, long first, long spent, long reserved)
        {
            (_owner, _keys, _id, _held, _free, _running, Granted) = (owner, keys, id, granted, granted - first, first, granted);
            (SpentSeen, ReservedSeen) = (spent, reserved);
            Member = id + ":" + granted.ToString(CultureInfo.InvariantCulture);
            First = Handle(++_taken);
        }

        /// <summary>The reservation's member in Redis now.</summary>
        public string Member { get; private set; }

        /// <summary>The first request's reservation.</summary>
        public string First { get; }

        public long SpentSeen { get; }

        public long ReservedSeen { get; }

        public long Granted { get; }

        public bool Expired => RedisShares.Expired(_openedAt);

        /// <summary>A quarter or less of it free, or half its time gone: time to ask for the next.</summary>
        public bool Low
        {
            get
            {
                lock (_lock)
                {
                    return _free * 4 <= _held || RedisShares.HalfGone(_openedAt);
                }
            }
        }

        private string Handle(int n) => _id + "#" + n.ToString(CultureInfo.InvariantCulture);

        /// <summary>The request's reservation, taken from the share; null when it is closed or has not enough free.</summary>
        public string? TryTake(long worst)
        {
            lock (_lock)
            {
                if (_closed || _free < worst || Expired)
                {
                    return null;
                }
                _free -= worst;
                _running += worst;
                return Handle(++_taken);
            }
        }

        public void Close()
        {
            Task sent;
            lock (_lock)
            {
                if (_closed)
                {
                    return;
                }
                _closed = true;
                _free = 0;
                if (_running == _held && _cost == 0)
                {
                    if (_running == 0)
                    {
                        _owner._shares.TryRemove(_id, out _); // nothing reserved (a worst case of 0) and nothing running
                    }
                    return; // nothing to give back yet: the reservation holds exactly its running requests
                }
                sent = SendLocked();
            }
            _ = _owner.UpdateAsync(sent, _keys[0]);
        }

        public Task SettleAsync(long worst, long actual)
        {
            Task sent;
            lock (_lock)
            {
                _running -= worst;
                _cost += actual;
                if (!_closed)
                {
                    _free = Math.Max(0, _free + worst - actual); // what it did not cost goes back to the share
                    return Task.CompletedTask;
                }
                sent = SendLocked();
            }
            return _owner.UpdateAsync(sent, _keys[0]);
        }

        /// <summary>Replaces the reservation by one for the running requests and adds the cost so far; sent under the lock, so updates reach Redis in order.</summary>
        private Task SendLocked()
        {
            string old = Member;
            long oldHeld = _held, cost = _cost;
            string next = _running > 0 ? $"{_id}.{++_version}:{_running.ToString(CultureInfo.InvariantCulture)}" : "";
            _owner._leases.Release((string)_keys[1]!, old);
            if (next.Length > 0)
            {
                _owner._leases.Hold((string)_keys[1]!, next);
            }
            else
            {
                _owner._shares.TryRemove(_id, out _);
            }
            (Member, _held, _cost) = (next, _running, 0);
            return _owner.Send(_keys, old, oldHeld, cost, next, _running);
        }
    }

    /// <summary>Renews the reservations of the requests running here, so a long stream keeps its reservation and a dead gateway's expire.</summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_leases.RenewAsync(LeaseFor, expireSets: false, stoppingToken), _open.SweepAsync(stoppingToken));
}
