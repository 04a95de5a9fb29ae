using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Routing;
using Sluice.Gateway.Tenancy;
using Sluice.Gateway.Tenancy.Limits;
using Sluice.Gateway.Tests.Support;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tests.Tenancy.Limits;

/// <summary>The fleet-wide tokens-per-minute window in a real Redis: two limiters (two gateways) share one window.</summary>
[Collection(TenancyCollection.Name)]
public sealed class RedisTokenLimiterTests(TenancyServers servers)
{
    private async Task<(RedisTokenLimiter Limiter, TenancyRedis Redis)> LimiterAsync(string failMode = "closed", RedisServer? own = null)
    {
        var redis = TenancyRedis.Connect((own ?? await servers.RedisAsync()).ConnectionString);
        var settings = new TenancySettings { FailMode = failMode == "open" ? FailMode.Open : FailMode.Closed };
        var failures = new TenancyFailures(settings, new GatewayMetrics(new Router(TimeProvider.System)), TimeProvider.System, NullLogger<TenancyFailures>.Instance);
        return (new RedisTokenLimiter(redis, failures), redis);
    }

    private static VirtualKey NewKey(long tpm) => new() { Id = "key_" + Guid.NewGuid().ToString("N")[..16], TokensPerMinute = tpm };

    [SkippableFact]
    public async Task TwoLimiters_ShareOneWindow_SettleGivesBackAndRetryAfterIsWithinTheMinute()
    {
        var (a, redisA) = await LimiterAsync();
        var (b, redisB) = await LimiterAsync();
        await using (redisA)
        await using (redisB)
        {
            var key = NewKey(10);
            var first = await a.ReserveAsync(key, 6, 1, default);
            Assert.NotNull(await b.ReserveAsync(key, 4, 1, default));

            var refused = await Assert.ThrowsAsync<ApiException>(() => a.ReserveAsync(key, 5, 1, default).AsTask());
            Assert.Equal(429, refused.Status);
            Assert.Equal("tpm_limit", refused.Param);
            Assert.Contains("10 tokens are in the last minute's window", refused.Message, StringComparison.Ordinal);
            Assert.InRange(refused.RetryAfterSeconds!.Value, 55, 60); // the first entry, seconds old, leaves the window then

            // used 1 of its 6: 5 come back. The settle is not awaited (off the request's path), but it is queued on a's
            // connection first, so a's next reserve finds the room; and once that answered, every limiter sees it
            await first!.SettleAsync(1);
            Assert.NotNull(await a.ReserveAsync(key, 5, 1, default));
            await Assert.ThrowsAsync<ApiException>(() => b.ReserveAsync(key, 1, 1, default).AsTask());

            var never = await Assert.ThrowsAsync<ApiException>(() => b.ReserveAsync(key, 11, 1, default).AsTask());
            Assert.Equal(400, never.Status);
        }
    }

    [SkippableFact]
    public async Task RoomyWindow_AdmitsFromAShare_AndItsCloseCountsWhatWasUsed()
    {
        var (a, redisA) = await LimiterAsync();
        var (b, redisB) = await LimiterAsync();
        await using (redisA)
        await using (redisB)
        using (a)
        using (b)
        {
            var key = NewKey(1_000_000);
            string tokens = "sluice:tpm:" + key.Id + ":tokens";
            var taken = new List<ITokenReservation>();
            for (int i = 0; i < 10; i++)
            {
                taken.Add((await a.ReserveAsync(key, 100, 10, default))!);
            }
            // one entry: the first request's grant of 64 worst cases, the nine others taken from it
            Assert.Equal(1, await redisA.Database.SortedSetLengthAsync("sluice:tpm:" + key.Id));
            Assert.Equal(6400, (long)await redisA.Database.HashGetAsync(tokens, "_total"));

            // another gateway sees the whole grant in the window
            var other = NewKey(6_450) with { Id = key.Id };
            await Assert.ThrowsAsync<ApiException>(() => b.ReserveAsync(other, 100, 10, default).AsTask());

            foreach (var reservation in taken)
            {
                await reservation.SettleAsync(30);
            }
            // closed after RedisShares.OpenFor: the entry counts the 300 used, and the rest is free for every gateway
            for (int i = 0; i < 100 && (long)await redisA.Database.HashGetAsync(tokens, "_total") != 300; i++)
            {
                await Task.Delay(50);
            }
            Assert.Equal(300, (long)await redisA.Database.HashGetAsync(tokens, "_total"));
            Assert.NotNull(await b.ReserveAsync(other, 6_000, 10, default));
        }
    }

    [SkippableTheory]
    [InlineData("closed")]
    [InlineData("open")]
    public async Task RedisDown_FollowsTheFailMode(string failMode)
    {
        await using var own = await RedisServer.StartNewAsync();
        var (limiter, redis) = await LimiterAsync(failMode, own);
        await using (redis)
        {
            own.Stop();
            var key = NewKey(10);
            if (failMode == "closed")
            {
                var refused = await Assert.ThrowsAsync<ApiException>(() => limiter.ReserveAsync(key, 5, 1, default).AsTask());
                Assert.Equal(503, refused.Status);
                Assert.Contains("token limit counters (Redis", refused.Message, StringComparison.Ordinal);
            }
            else
            {
                Assert.Null(await limiter.ReserveAsync(key, 5, 1, default)); // admitted, nothing held
            }
        }
    }
}
