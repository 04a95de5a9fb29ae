using Microsoft.Extensions.Time.Testing;
using Sluice.Gateway.Configuration;
using Sluice.Gateway.Health;

namespace Sluice.Gateway.Tests.Health;

public sealed class CircuitBreakerTests
{
    private static readonly BreakerSettings Settings = new() { FailureThreshold = 3, OpenFor = TimeSpan.FromSeconds(10) };

    [Fact]
    public void Failure_ThresholdReached_OpensUntilOpenForPassesThenLetsOneTrialThrough()
    {
        var time = new FakeTimeProvider();
        var b = new CircuitBreaker(time);
        b.Failure(Settings);
        b.Failure(Settings);
        Assert.Equal(CircuitState.Closed, b.State);
        b.Failure(Settings);
        Assert.Equal(CircuitState.Open, b.State);
        Assert.False(b.TryAcquire(Settings));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(b.TryAcquire(Settings));
        Assert.Equal(CircuitState.HalfOpen, b.State);
        Assert.False(b.TryAcquire(Settings)); // one trial at a time
        b.Success();
        Assert.Equal(CircuitState.Closed, b.State);
    }

    [Fact]
    public void Failure_OfTheTrial_OpensAgainAtOnce()
    {
        var time = new FakeTimeProvider();
        var b = new CircuitBreaker(time);
        for (int i = 0; i < 3; i++)
        {
            b.Failure(Settings);
        }
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.True(b.TryAcquire(Settings));
        b.Failure(Settings);
        Assert.Equal(CircuitState.Open, b.State);
        Assert.False(b.TryAcquire(Settings));
    }

    [Fact]
    public void CheckPassed_OpenPastItsTime_Closes()
    {
        var time = new FakeTimeProvider();
        var b = new CircuitBreaker(time);
        for (int i = 0; i < 3; i++)
        {
            b.Failure(Settings);
        }
        b.CheckPassed(Settings);
        Assert.Equal(CircuitState.Open, b.State);
        time.Advance(TimeSpan.FromSeconds(10));
        b.CheckPassed(Settings);
        Assert.Equal(CircuitState.Closed, b.State);
    }

    [Fact]
    public void Success_BetweenFailures_ResetsTheCount()
    {
        var b = new CircuitBreaker(new FakeTimeProvider());
        b.Failure(Settings);
        b.Failure(Settings);
        b.Success();
        b.Failure(Settings);
        b.Failure(Settings);
        Assert.Equal(CircuitState.Closed, b.State);
    }
}
