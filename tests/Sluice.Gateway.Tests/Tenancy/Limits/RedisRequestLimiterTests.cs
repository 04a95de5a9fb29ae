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
/// checked and taken in one script call per request, and a request one limit refuses takes nothing from the other.
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
    public async Task Acquire_RpmAndParallelLimits_OneScriptCallPerRequest()
    {
        await using var server = await RedisServer.StartNewAsync();
        var (limiter, redis) = Limiter(server);
        await using (redis)
        {
            var key = NewKey(rpm: 1000, parallel: 10);
            await (await limiter.AcquireAsync(key, default)).DisposeAsync(); // the script loaded
            long before = await ScriptCallsAsync(server);
            for (int i = 0; i < 20; i++)
            {
                await (await limiter.AcquireAsync(key, default)).DisposeAsync();
            }
            Assert.Equal(20, await ScriptCallsAsync(server) - before);
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
