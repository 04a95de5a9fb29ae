using System.Collections.Concurrent;
using StackExchange.Redis;

namespace Sluice.Gateway.Tenancy;

/// <summary>
/// Members of Redis sorted sets scored by the expiry of their lease (a parallel-request slot, a budget reservation), held
/// by requests running in this process. <see cref="RenewAsync"/> pushes their expiry on every lease/3, so a long request
/// keeps its place while a gateway killed mid-request stops renewing and its members lapse after at most one lease.
/// </summary>
internal sealed class RedisLeases(TenancyRedis redis, TenancyFailures failures, string what)
{
    // KEYS[1] the set; ARGV lease ms, set expiry ms (0: left as it is), members...: pushes on those still there.
    private const string RenewScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        for i = 3, #ARGV do
          redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
        end
        if tonumber(ARGV[2]) > 0 then
          redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
        end
        return 0
        """;

    private readonly ConcurrentDictionary<(string Set, string Member), byte> _held = new();

    public void Hold(string set, string member) => _held[(set, member)] = 0;

    public void Release(string set, string member) => _held.TryRemove((set, member), out _);

    /// <summary>Renews every held member each <paramref name="leaseFor"/>/3 until stopped; with <paramref name="expireSets"/>
    /// each set's own expiry is pushed to twice the lease too. Redis unreachable: counted as a failure of <c>what</c>.</summary>
    public async Task RenewAsync(TimeSpan leaseFor, bool expireSets, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(leaseFor / 3);
        long lease = (long)leaseFor.TotalMilliseconds;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var group in _held.Keys.GroupBy(h => h.Set))
            {
                try
                {
                    RedisValue[] args = [lease, expireSets ? lease * 2 : 0, .. group.Select(h => (RedisValue)h.Member)];
                    await redis.Database.ScriptEvaluateAsync(RenewScript, [group.Key], args);
                }
                catch (Exception e) when (TenancyRedis.IsUnreachable(e))
                {
                    failures.Failed("redis", $"{what} ({redis.Description})", e.Message);
                }
            }
        }
    }
}
