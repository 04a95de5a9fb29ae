using Microsoft.Extensions.Time.Testing;
using Sluice.Engine.Serving;
using Sluice.Server.Health;
using Sluice.Server.Hosting;

namespace Sluice.Server.Tests.Health;

public sealed class ReadinessTests
{
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(ServerState.Loading)]
    [InlineData(ServerState.WarmingUp)]
    [InlineData(ServerState.Draining)]
    [InlineData(ServerState.Stopped)]
    [InlineData(ServerState.Failed)]
    public void NotReady_OutsideTheReadyState(ServerState state)
    {
        var time = new FakeTimeProvider();
        var verdict = Readiness.Evaluate(state, "boom", new EngineStats(), 0, 0, time.GetTimestamp(), time, Stall);
        Assert.False(verdict.Ready);
        Assert.False(string.IsNullOrEmpty(verdict.Reason));
    }

    [Fact]
    public void Ready_WhenIdle_HoweverLongSinceTheLastStep()
    {
        var time = new FakeTimeProvider();
        var stats = new EngineStats { LastStepFinished = time.GetTimestamp() };
        time.Advance(TimeSpan.FromHours(3));
        Assert.True(Readiness.Evaluate(ServerState.Ready, null, stats, 0, 0, time.GetTimestamp(), time, Stall).Ready);
    }

    [Fact]
    public void Stalled_WhenWorkIsPendingAndNoStepFinishedWithinTheStallTimeout()
    {
        var time = new FakeTimeProvider();
        var stats = new EngineStats { Running = 2, LastStepFinished = time.GetTimestamp() };
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(Readiness.Evaluate(ServerState.Ready, null, stats, 2, 0, time.GetTimestamp(), time, Stall).Ready);
        time.Advance(TimeSpan.FromSeconds(25));
        var verdict = Readiness.Evaluate(ServerState.Ready, null, stats, 2, 0, time.GetTimestamp(), time, Stall);
        Assert.False(verdict.Ready);
        Assert.Contains("stalled", verdict.Reason);
    }

    [Fact]
    public void WorkArrivingAfterALongIdle_GetsTheWholeStallTimeoutFromItsArrival()
    {
        var time = new FakeTimeProvider();
        var stats = new EngineStats { LastStepFinished = time.GetTimestamp() };
        time.Advance(TimeSpan.FromHours(1));
        long arrived = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(Readiness.Evaluate(ServerState.Ready, null, stats, 1, arrived, time.GetTimestamp(), time, Stall).Ready);
        time.Advance(TimeSpan.FromSeconds(40));
        Assert.False(Readiness.Evaluate(ServerState.Ready, null, stats, 1, arrived, time.GetTimestamp(), time, Stall).Ready);
    }
}
