using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Routing;
using Sluice.Gateway.Tenancy;
using Sluice.Gateway.Tenancy.Spend;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Spend;

/// <summary>
/// The budget counters themselves, in memory and on a real Redis: seeded once from the spend log's sum, reserve while
/// spent + reserved is under the limit (so concurrent requests overshoot by at most one reservation, also from two
/// gateways' Redis connections at once), settle releases and adds the real cost, periods are separate counters, and in
/// Redis a reservation that is never settled (its gateway was killed) expires.
/// </summary>
[Collection(TenancyCollection.Name)]
public sealed class BudgetCountersTests(TenancyServers servers) : IAsyncDisposable
{
    private readonly List<TenancyRedis> _connections = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }
    }

    private async Task<RedisBudgetCounters> RedisCountersAsync(TimeSpan? lease = null)
    {
        var redis = TenancyRedis.Connect((await servers.RedisAsync()).ConnectionString);
        _connections.Add(redis);
        var failures = new TenancyFailures(new TenancySettings(), new GatewayMetrics(new Router(TimeProvider.System)), TimeProvider.System,
            NullLogger<TenancyFailures>.Instance);
        return new RedisBudgetCounters(redis, failures) { LeaseFor = lease ?? TimeSpan.FromSeconds(60) };
    }

    private async Task<IBudgetCounters[]> CountersAsync(string store) => store == "memory"
        ? [new MemoryBudgetCounters(TimeProvider.System)]
        : [await RedisCountersAsync(), await RedisCountersAsync()];

    private static BudgetCounterId NewId(long periodStart = 0) => new("key_" + Guid.NewGuid().ToString("N")[..16], BudgetCounterId.Pico, periodStart);

    [SkippableTheory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task Reserve_ManyConcurrentRequests_AdmitsUntilTheLimitOvershootingByAtMostOneReservation(string store)
    {
        var counters = await CountersAsync(store);
        var id = NewId();
        int seeds = 0;
        Task<long> Seed(CancellationToken _)
        {
            Interlocked.Increment(ref seeds);
            return Task.FromResult(30L);
        }
        var answers = new ConcurrentBag<BudgetAnswer>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            answers.Add(await counters[i % counters.Length].ReserveAsync(id, limit: 100, worst: 7, Seed, ct)));

        // 30 spent: with 0, 7, ..., 63 reserved a request passes (30 + 63 < 100); at 30 + 70 the limit is reached: 10 admitted
        int admitted = answers.Count(a => a.Admitted);
        Assert.Equal(10, admitted);
        Assert.True(30 + (admitted * 7) <= 100 + 7);
        Assert.All(answers.Where(a => !a.Admitted), a => Assert.Equal(30, a.Spent));
        Assert.InRange(seeds, 1, store == "memory" ? 1 : 2 * 16);
    }

    [SkippableTheory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task Settle_ReleasesTheReservationAndAddsTheRealCost(string store)
    {
        var counter = (await CountersAsync(store))[0];
        var id = NewId();
        var first = await counter.ReserveAsync(id, 100, 60, _ => Task.FromResult(0L), default);
        Assert.True(first.Admitted);
        var held = await counter.ReserveAsync(id, 100, 60, _ => Task.FromResult(0L), default);
        Assert.True(held.Admitted); // 0 + 60 < 100
        Assert.False((await counter.ReserveAsync(id, 100, 60, _ => Task.FromResult(0L), default)).Admitted); // 120 reserved

        await counter.SettleAsync(id, first.Reservation!, 60, 25);
        await counter.SettleAsync(id, held.Reservation!, 60, 10);
        var after = await counter.ReserveAsync(id, 100, 60, _ => Task.FromResult(0L), default);
        Assert.True(after.Admitted);
        Assert.Equal(35, after.Spent);
        Assert.Equal(0, after.Reserved);
    }

    [SkippableTheory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task Reserve_NewPeriod_IsItsOwnCounterSeededFromItsOwnSum(string store)
    {
        var counter = (await CountersAsync(store))[0];
        var old = NewId(periodStart: 1_000);
        var current = old with { PeriodStartMs = 2_000 };
        Assert.False((await counter.ReserveAsync(old, 100, 1, _ => Task.FromResult(100L), default)).Admitted);
        var answer = await counter.ReserveAsync(current, 100, 1, _ => Task.FromResult(0L), default);
        Assert.True(answer.Admitted);
        Assert.Equal(0, answer.Spent);
    }

    [SkippableTheory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task Reserve_SeedFails_ThrowsAndTheNextReserveSeedsAgain(string store)
    {
        var counter = (await CountersAsync(store))[0];
        var id = NewId();
        var failure = new BudgetStoreException("database", "spend log (test)", new InvalidOperationException("down"));
        var thrown = await Assert.ThrowsAsync<BudgetStoreException>(() => counter.ReserveAsync(id, 100, 1, _ => throw failure, default));
        Assert.Equal("database", thrown.Store);
        var answer = await counter.ReserveAsync(id, 100, 1, _ => Task.FromResult(40L), default);
        Assert.True(answer.Admitted);
        Assert.Equal(40, answer.Spent);
    }

    [SkippableFact]
    public async Task Redis_RoomyBudget_AdmitsFromAShare_AndItsCloseAddsTheCostAndGivesBackTheRest()
    {
        var counter = await RedisCountersAsync();
        await counter.StartAsync(default); // the sweep that closes shares
        var redis = TenancyRedis.Connect((await servers.RedisAsync()).ConnectionString);
        _connections.Add(redis);
        var id = NewId();
        string key = "sluice:budget:" + id;
        var answers = new List<BudgetAnswer>();
        for (int i = 0; i < 10; i++)
        {
            answers.Add(await counter.ReserveAsync(id, 1_000_000, 100, _ => Task.FromResult(0L), default));
        }
        Assert.All(answers, a => Assert.True(a.Admitted));
        // one reservation: the first request's grant of 64 worst cases, the nine others taken from it
        Assert.Equal(6400, (long)await redis.Database.HashGetAsync(key, "reserved"));
        Assert.Equal(1, await redis.Database.SortedSetLengthAsync(key + ":res"));

        foreach (var answer in answers.Skip(1))
        {
            await counter.SettleAsync(id, answer.Reservation!, 100, 40);
        }
        // closed after RedisShares.OpenFor: the nine costs are added and only the running request stays reserved
        for (int i = 0; i < 100 && (long)await redis.Database.HashGetAsync(key, "spent") != 360; i++)
        {
            await Task.Delay(50);
        }
        Assert.Equal(360, (long)await redis.Database.HashGetAsync(key, "spent"));
        Assert.Equal(100, (long)await redis.Database.HashGetAsync(key, "reserved"));
        await counter.SettleAsync(id, answers[0].Reservation!, 100, 25);
        Assert.Equal(385, (long)await redis.Database.HashGetAsync(key, "spent"));
        Assert.Equal(0, (long)await redis.Database.HashGetAsync(key, "reserved"));
        Assert.Equal(0, await redis.Database.SortedSetLengthAsync(key + ":res"));
        await counter.StopAsync(default);
    }

    [SkippableFact]
    public async Task Redis_ShareThatCannotAdmit_GivesItsRoomBackBeforeTheRequestAsksRedis()
    {
        // never started: no sweep closes the share, as when its time is up between two sweeps
        var here = await RedisCountersAsync();
        var other = await RedisCountersAsync();
        var id = NewId();
        // a budget of 24 requests: the first grant is a share of 3 (24/8), one of them taken
        var first = await here.ReserveAsync(id, 24, 1, _ => Task.FromResult(0L), default);
        Assert.True(first.Admitted);
        Assert.Equal(0, first.Reserved);
        // the other gateway takes the 21 not held by that share, in requests of 3 (more than 21/8: no shares there)
        int others = 0;
        while ((await other.ReserveAsync(id, 24, 3, _ => Task.FromResult(0L), default)).Admitted)
        {
            others++;
        }
        Assert.Equal(7, others);
        await Task.Delay(RedisShares.OpenFor + TimeSpan.FromMilliseconds(100)); // the share admits no more
        // its two unused requests' worth go back first, so these are admitted instead of refused for room nobody uses
        var second = await here.ReserveAsync(id, 24, 1, _ => Task.FromResult(0L), default);
        Assert.True(second.Admitted);
        Assert.True((await here.ReserveAsync(id, 24, 1, _ => Task.FromResult(0L), default)).Admitted);
        var refused = await here.ReserveAsync(id, 24, 1, _ => Task.FromResult(0L), default);
        Assert.False(refused.Admitted);
        Assert.Equal(24, refused.Spent + refused.Reserved);
    }

    [SkippableFact]
    public async Task Redis_ReservationNeverSettled_ExpiresAfterItsLease()
    {
        var killed = await RedisCountersAsync(lease: TimeSpan.FromSeconds(3)); // never started: nothing renews, as in a killed gateway
        var other = await RedisCountersAsync();
        var id = NewId();
        Assert.True((await killed.ReserveAsync(id, 100, 100, _ => Task.FromResult(0L), default)).Admitted);
        var refused = await other.ReserveAsync(id, 100, 1, _ => Task.FromResult(0L), default);
        Assert.False(refused.Admitted);
        Assert.Equal(100, refused.Reserved);

        await Task.Delay(TimeSpan.FromSeconds(3.5));
        var admitted = await other.ReserveAsync(id, 100, 1, _ => Task.FromResult(0L), default);
        Assert.True(admitted.Admitted);
        Assert.Equal(0, admitted.Reserved);
    }

    [SkippableFact]
    public async Task Redis_CounterEvicted_IsSeededAgainFromTheSpendLog()
    {
        var counter = await RedisCountersAsync();
        var id = NewId();
        // 20 of the 90 left: more than 90/8, so no share is granted and the next reserve asks Redis
        Assert.True((await counter.ReserveAsync(id, 100, 20, _ => Task.FromResult(10L), default)).Admitted);
        var redis = TenancyRedis.Connect((await servers.RedisAsync()).ConnectionString);
        _connections.Add(redis);
        await redis.Database.KeyDeleteAsync("sluice:budget:" + id);
        var answer = await counter.ReserveAsync(id, 100, 20, _ => Task.FromResult(55L), default);
        Assert.True(answer.Admitted);
        Assert.Equal(55, answer.Spent);
    }

    [SkippableFact]
    public async Task Redis_CounterMissedRequestsInAnOutage_IsSeededAgainKeepingTheReservationsInFlight()
    {
        var counter = await RedisCountersAsync();
        var id = NewId();
        var held = await counter.ReserveAsync(id, 100, 30, _ => Task.FromResult(10L), default);
        Assert.True(held.Admitted);

        // requests served while this gateway could not reach Redis spent 50 that the counter never heard of; the log has it
        counter.MarkStale(id);
        var answer = await counter.ReserveAsync(id, 100, 1, _ => Task.FromResult(60L), default);
        Assert.True(answer.Admitted);
        Assert.Equal(60, answer.Spent);
        Assert.Equal(30, answer.Reserved); // the reservation in flight is kept
    }
}
