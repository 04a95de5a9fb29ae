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

    // KEYS[1] counter, KEYS[2] reservations; ARGV limit, worst, member, lease ms, keep ms.
    // Returns {-1} (not seeded: seed it), {0, spent, reserved} refused, {1, spent, reserved} reserved.
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
        redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[2])
        redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
        redis.call('PEXPIRE', KEYS[2], ARGV[5])
        return {1, spent, reserved}
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

    // KEYS[1] counter, KEYS[2] reservations; ARGV member, worst, actual.
    private const string SettleScript = """
        local held = redis.call('ZREM', KEYS[2], ARGV[1])
        if redis.call('EXISTS', KEYS[1]) == 1 then
          if held == 1 then
            redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. ARGV[2])
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

    public string Description => redis.Description;

    /// <summary>Marks the counter as one whose spent may lack requests (as an unreachable Redis does): its next use seeds it again.</summary>
    internal void MarkStale(BudgetCounterId id) => _stale[Counter(id)] = 0;

    private static string Counter(BudgetCounterId id) => "sluice:budget:" + id;

    private static string Reservations(BudgetCounterId id) => "sluice:budget:" + id + ":res";

    public async Task<BudgetAnswer> ReserveAsync(BudgetCounterId id, long limit, long worst, Func<CancellationToken, Task<long>> seed,
        CancellationToken cancellationToken)
    {
        string member = Guid.NewGuid().ToString("N") + ":" + worst.ToString(CultureInfo.InvariantCulture);
        string counter = Counter(id);
        RedisKey[] keys = [counter, Reservations(id)];
        RedisValue[] args = [limit, worst, member, (long)LeaseFor.TotalMilliseconds, (long)KeepFor.TotalMilliseconds];
        for (int attempt = 0; ; attempt++)
        {
            RedisResult[] result;
            try
            {
                if (_stale.TryRemove(counter, out _))
                {
                    await redis.Database.ScriptEvaluateAsync(ResetScript, [keys[0]]);
                }
                result = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(ReserveScript, keys, args))!;
            }
            catch (Exception e) when (TenancyRedis.IsUnreachable(e))
            {
                _stale[counter] = 0;
                throw new BudgetStoreException("redis", $"budget counters ({redis.Description})", e);
            }
            long state = (long)result[0];
            if (state >= 0)
            {
                long spent = long.Parse((string)result[1]!, CultureInfo.InvariantCulture);
                long reserved = long.Parse((string)result[2]!, CultureInfo.InvariantCulture);
                if (state == 0)
                {
                    return new BudgetAnswer(false, spent, reserved, null);
                }
                _leases.Hold(keys[1]!, member);
                return new BudgetAnswer(true, spent, reserved, member);
            }
            if (attempt == 3)
            {
                throw new BudgetStoreException("redis", $"budget counters ({redis.Description})",
                    new InvalidOperationException($"the counter {id} was not seeded after {attempt} tries"));
            }
            long sum = await seed(cancellationToken);
            try
            {
                await redis.Database.ScriptEvaluateAsync(SeedScript, [keys[0]], [sum]);
            }
            catch (Exception e) when (TenancyRedis.IsUnreachable(e))
            {
                throw new BudgetStoreException("redis", $"budget counters ({redis.Description})", e);
            }
        }
    }

    public async Task SettleAsync(BudgetCounterId id, string reservation, long worst, long actual)
    {
        string set = Reservations(id);
        _leases.Release(set, reservation);
        try
        {
            await redis.Database.ScriptEvaluateAsync(SettleScript, [Counter(id), set], [reservation, worst, actual]);
        }
        catch (Exception e) when (TenancyRedis.IsUnreachable(e))
        {
            // the reservation expires on its own; the spend is in the spend log, where the re-seeded counter finds it
            _stale[Counter(id)] = 0;
            failures.Failed("redis", $"budget counters ({redis.Description})", e.Message);
        }
    }

    /// <summary>Renews the reservations of the requests running here, so a long stream keeps its reservation and a dead gateway's expire.</summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _leases.RenewAsync(LeaseFor, expireSets: false, stoppingToken);
}
