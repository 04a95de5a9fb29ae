using Microsoft.Extensions.Time.Testing;
using Sluice.Gateway.Tenancy;
using Sluice.Gateway.Tenancy.Limits;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tests.Tenancy.Limits;

/// <summary>The in-process tokens-per-minute window, on a fake clock: admission, settling, Retry-After and the window's edge.</summary>
public sealed class LocalTokenLimiterTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));
    private static readonly VirtualKey Key = new() { Id = "key_tpm", TokensPerMinute = 10 };

    [Fact]
    public async Task Reserve_OverTheLimit_Is429NamingTpmWithTheWaitUntilEnoughTokensLeave()
    {
        var limiter = new LocalTokenLimiter(_time);
        Assert.NotNull(await limiter.ReserveAsync(Key, 6, 1, default));
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.NotNull(await limiter.ReserveAsync(Key, 4, 1, default));
        _time.Advance(TimeSpan.FromSeconds(10));

        var refused = await Assert.ThrowsAsync<ApiException>(() => limiter.ReserveAsync(Key, 5, 1, default).AsTask());

        Assert.Equal(429, refused.Status);
        Assert.Equal("tpm_limit", refused.Param);
        Assert.Equal("tpm_limit_exceeded", refused.Code);
        Assert.Contains("10 tokens per minute (tpm_limit)", refused.Message, StringComparison.Ordinal);
        // 5 more need the first entry (6 tokens, admitted 20 s ago) to leave: in 40 s
        Assert.Equal(40, refused.RetryAfterSeconds);
        _time.Advance(TimeSpan.FromSeconds(39));
        await Assert.ThrowsAsync<ApiException>(() => limiter.ReserveAsync(Key, 5, 1, default).AsTask());
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.NotNull(await limiter.ReserveAsync(Key, 5, 1, default));
    }

    [Fact]
    public async Task Settle_BelowTheWorstCase_GivesTheRestBackSoMoreFits()
    {
        var limiter = new LocalTokenLimiter(_time);
        var first = await limiter.ReserveAsync(Key, 8, 1, default);
        await Assert.ThrowsAsync<ApiException>(() => limiter.ReserveAsync(Key, 8, 1, default).AsTask());

        await first!.SettleAsync(2);
        await first.SettleAsync(0); // once: a second settle changes nothing

        Assert.NotNull(await limiter.ReserveAsync(Key, 8, 1, default));
        await Assert.ThrowsAsync<ApiException>(() => limiter.ReserveAsync(Key, 1, 1, default).AsTask());
    }

    [Fact]
    public async Task Settle_AfterTheEntryLeftTheWindow_DoesNotBringItBack()
    {
        var limiter = new LocalTokenLimiter(_time);
        var first = await limiter.ReserveAsync(Key, 10, 1, default);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.NotNull(await limiter.ReserveAsync(Key, 10, 1, default));

        await first!.SettleAsync(10);

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.NotNull(await limiter.ReserveAsync(Key, 10, 1, default));
    }

    [Fact]
    public async Task Reserve_AWorstCaseOverTheLimitAlone_Is400SayingItCanNeverFit()
    {
        var limiter = new LocalTokenLimiter(_time);

        var refused = await Assert.ThrowsAsync<ApiException>(() => limiter.ReserveAsync(Key, 11, 3, default).AsTask());

        Assert.Equal(400, refused.Status);
        Assert.Equal("max_tokens", refused.Param);
        Assert.Contains("can never be admitted", refused.Message, StringComparison.Ordinal);
        Assert.Contains("3 prompt tokens", refused.Message, StringComparison.Ordinal);
        Assert.Null(refused.RetryAfterSeconds);
    }

    [Fact]
    public async Task Reserve_AKeyWithoutTpmLimit_HoldsNothing()
    {
        var limiter = new LocalTokenLimiter(_time);

        Assert.Null(await limiter.ReserveAsync(Key with { TokensPerMinute = null }, 1_000_000, 1, default));
    }
}
