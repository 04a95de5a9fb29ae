using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Routing;
using Sluice.Gateway.Tenancy;
using Sluice.Gateway.Tenancy.Limits;
using Sluice.Gateway.Tests.Support;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tests.Tenancy.Limits;

/// <summary>
/// rpm_limit and max_parallel_requests in a real Redis (its own server, so its command counts are this test's): both
/// checked and taken in one script call, a request one limit refuses takes nothing from the other, and a key with room
/// is admitted from a share without a call per request, the log staying exact.
/// </summary>
public sealed class RedisRequestLimiterTests
{
    private static (RedisRequestLimiter Limiter, TenancyRedis Redis) Limiter(RedisServer server)
    {
        var redis = TenancyRedis.Connect(server.ConnectionString);
        var failures = new TenancyFailures(new TenancySettings(), new GatewayMetrics(new Router(TimeProvider.System)), TimeProvider.System,
            NullLogger<TenancyFailures>.Instance);
        return (new RedisRequestLimiter(redis, failures), redis);
    }

    private static VirtualKey NewKey(int? rpm, int? parallel) =>
        new() { Id = "key_" + Guid.NewGuid().ToString("N")[..16], RequestsPerMinute = rpm, MaxParallelRequests = parallel };

    /// <summary>Script calls (EVAL and EVALSHA) the server has answered so far.</summary>
    private static async Task<long> ScriptCallsAsync(RedisServer redis)
    {
        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        var stats = (await server.InfoAsync("commandstats")).SelectMany(g => g);
        return stats.Where(s => s.Key is "cmdstat_eval" or "cmdstat_evalsha")
            .Sum(s => long.Parse(s.Value.Split(',')[0]["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture));
    }

    [SkippableFact]
    public async Task Acquire_TightLimits_OneScriptCallPerRequest()
    {
        await using var server = await RedisServer.StartNewAsync();
        var (limiter, redis) = Limiter(server);
        await using (redis)
        {
            // 15 a minute: under 2 × RedisShares.Divisor, so no share: every request asks Redis
            var key = NewKey(rpm: 15, parallel: 4);
            await (await limiter.AcquireAsync(key, default)).DisposeAsync(); // the script loaded
            long before = await ScriptCallsAsync(server);
            for (int i = 0; i < 10; i++)
            {
                await (await limiter.AcquireAsync(key, default)).DisposeAsync();
            }
            Assert.Equal(10, await ScriptCallsAsync(server) - before);
        }
    }

    [SkippableFact]
    public async Task Acquire_RoomyLimits_AdmitsFromAShare_AndItsCloseLeavesTheLogExact()
    {
        await using var server = await RedisServer.StartNewAsync();
        var (limiter, redis) = Limiter(server);
        await using (redis)
        {
            await limiter.StartAsync(default); // the sweep that closes shares
            var key = NewKey(rpm: 10_000, parallel: 100);
            var first = await limiter.AcquireAsync(key, default); // granted 64 log entries and 12 slots
            long before = await ScriptCallsAsync(server);
            var held = new List<IRequestLease> { first };
            for (int i = 0; i < 29; i++)
            {
                held.Add(await limiter.AcquireAsync(key, default));
                if (held.Count > 5)
                {
                    await held[^6].DisposeAsync(); // at most 6 at once: the 12 slots go round
                }
            }
            Assert.Equal(0, await ScriptCallsAsync(server) - before);
            Assert.Equal(64, await redis.Database.SortedSetLengthAsync("sluice:rpm:" + key.Id));
            Assert.Equal(12, await redis.Database.SortedSetLengthAsync("sluice:parallel:" + key.Id));

            // closed after RedisShares.OpenFor: the 34 unused entries and the free slots go back; the 30 admissions stay,
            // each scored at its own admission, and the 5 still running keep their slots until they end
            await WaitForAsync(async () => await redis.Database.SortedSetLengthAsync("sluice:rpm:" + key.Id) == 30);
            Assert.Equal(5, await redis.Database.SortedSetLengthAsync("sluice:parallel:" + key.Id));
            var scores = (await redis.Database.SortedSetRangeByRankWithScoresAsync("sluice:rpm:" + key.Id)).Select(e => e.Score).ToList();
            Assert.True(scores[^1] >= scores[0]);
            foreach (var lease in held.TakeLast(5))
            {
                await lease.DisposeAsync();
            }
            await WaitForAsync(async () => await redis.Database.SortedSetLengthAsync("sluice:parallel:" + key.Id) == 0);
            await limiter.StopAsync(default);
        }
    }

    [SkippableFact]
    public async Task Acquire_ShareRunningLow_IsRefilledInTheBackground_AndTheLogStaysExact()
    {
        await using var server = await RedisServer.StartNewAsync();
        var (limiter, redis) = Limiter(server);
        await using (redis)
        {
            await limiter.StartAsync(default);
            var key = NewKey(rpm: 100_000, parallel: null);
            await (await limiter.AcquireAsync(key, default)).DisposeAsync(); // granted 64 entries
            long before = await ScriptCallsAsync(server);
            for (int i = 0; i < 99; i++)
            {
                // from the 48th on the share is low: its successor is asked for in the background, and installed
                await (await limiter.AcquireAsync(key, default)).DisposeAsync();
            }
            Assert.InRange(await ScriptCallsAsync(server) - before, 1, 4); // refills and closes, not a call per request
            // every share closed: exactly the 100 admissions are in the log
            await WaitForAsync(async () => await redis.Database.SortedSetLengthAsync("sluice:rpm:" + key.Id) == 100);
            await limiter.StopAsync(default);
        }
    }

    [SkippableFact]
    public async Task TwoLimiters_ConcurrentRequests_NeverAdmitMoreThanTheRpmLimit()
    {
        await using var server = await RedisServer.StartNewAsync();
        var (a, redisA) = Limiter(server);
        var (b, redisB) = Limiter(server);
        await using (redisA)
        await using (redisB)
        {
            await a.StartAsync(default);
            await b.StartAsync(default);
            var key = NewKey(rpm: 500, parallel: null);
            int admitted = 0;
            await Parallel.ForEachAsync(Enumerable.Range(0, 800), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            {
                try
                {
                    await (await (i % 2 == 0 ? a : b).AcquireAsync(key, ct)).DisposeAsync();
                    Interlocked.Increment(ref admitted);
                }
                catch (ApiException e) when (e.Param == "rpm_limit")
                {
                }
            });
            Assert.InRange(admitted, 400, 500); // shares held by one gateway may refuse the other's last few, never admit more
            await WaitForAsync(async () => await redisA.Database.SortedSetLengthAsync("sluice:rpm:" + key.Id) == admitted);
            await a.StopAsync(default);
            await b.StopAsync(default);
        }
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        for (int i = 0; i < 100 && !await condition(); i++)
        {
            await Task.Delay(50);
        }
        Assert.True(await condition());
    }

    [SkippableFact]
    public async Task Acquire_ShareThatCannotAdmit_GivesItsEntriesBackBeforeTheRequestAsksRedis()
    {
        await using var server = await RedisServer.StartNewAsync();
        var (limiter, redis) = Limiter(server); // never started: no sweep closes the share, as between two sweeps
        await using (redis)
        {
            var key = NewKey(rpm: 24, parallel: null);
            await (await limiter.AcquireAsync(key, default)).DisposeAsync(); // a share of 3 entries (24/8), one used
            // another gateway's 21 admissions fill the rest of the minute
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await redis.Database.SortedSetAddAsync("sluice:rpm:" + key.Id,
                [.. Enumerable.Range(0, 21).Select(i => new StackExchange.Redis.SortedSetEntry("other-" + i, now))]);
            await Task.Delay(RedisShares.OpenFor + TimeSpan.FromMilliseconds(100)); // the share admits no more
            // its two unused entries go back first, so these two are admitted instead of refused for entries nobody uses
            await (await limiter.AcquireAsync(key, default)).DisposeAsync();
            await (await limiter.AcquireAsync(key, default)).DisposeAsync();
            var refused = await Assert.ThrowsAsync<ApiException>(() => limiter.AcquireAsync(key, default).AsTask());
            Assert.Equal("rpm_limit", refused.Param);
            Assert.Equal(24, await redis.Database.SortedSetLengthAsync("sluice:rpm:" + key.Id));
        }
    }

    [SkippableFact]
    public async Task Acquire_ParallelFull_RefusedWithoutTakingFromTheRpmWindow()
    {
        await using var server = await RedisServer.StartNewAsync();
        var (limiter, redis) = Limiter(server);
        await using (redis)
        {
            var key = NewKey(rpm: 3, parallel: 1);
            var held = await limiter.AcquireAsync(key, default);
            for (int i = 0; i < 5; i++)
            {
                var refused = await Assert.ThrowsAsync<ApiException>(() => limiter.AcquireAsync(key, default).AsTask());
                Assert.Equal("max_parallel_requests", refused.Param);
            }
            await held.DisposeAsync();
            Assert.Equal(1, await redis.Database.SortedSetLengthAsync("sluice:rpm:" + key.Id)); // the refused five took no rpm entry
            await (await limiter.AcquireAsync(key, default)).DisposeAsync();
            await (await limiter.AcquireAsync(key, default)).DisposeAsync();
            var rpm = await Assert.ThrowsAsync<ApiException>(() => limiter.AcquireAsync(key, default).AsTask());
            Assert.Equal("rpm_limit", rpm.Param);
            Assert.InRange(rpm.RetryAfterSeconds!.Value, 1, 60);
        }
    }

    [SkippableFact]
    public async Task Acquire_RpmFull_RefusedWithoutTakingAParallelSlot()
    {
        await using var server = await RedisServer.StartNewAsync();
        var (limiter, redis) = Limiter(server);
        await using (redis)
        {
            var key = NewKey(rpm: 2, parallel: 5);
            var first = await limiter.AcquireAsync(key, default);
            var second = await limiter.AcquireAsync(key, default);
            var refused = await Assert.ThrowsAsync<ApiException>(() => limiter.AcquireAsync(key, default).AsTask());
            Assert.Equal("rpm_limit", refused.Param);
            Assert.Equal(2, await redis.Database.SortedSetLengthAsync("sluice:parallel:" + key.Id)); // the two running, not the refused one
            await first.DisposeAsync();
            await second.DisposeAsync();
            Assert.Equal(0, await redis.Database.SortedSetLengthAsync("sluice:parallel:" + key.Id));
        }
    }
}
