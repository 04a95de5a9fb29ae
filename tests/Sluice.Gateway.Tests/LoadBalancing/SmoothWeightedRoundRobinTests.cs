using Sluice.Gateway.LoadBalancing;

namespace Sluice.Gateway.Tests.LoadBalancing;

public sealed class SmoothWeightedRoundRobinTests
{
    [Fact]
    public void Next_OverOneCycle_PicksEachItemItsWeightInterleaved()
    {
        var rr = new SmoothWeightedRoundRobin([5, 1, 1]);
        var picks = Enumerable.Range(0, 7).Select(_ => rr.Next()).ToArray();
        Assert.Equal([0, 0, 1, 0, 2, 0, 0], picks);
    }

    [Fact]
    public void Next_NinetyTen_GivesExactlyOneInTen()
    {
        var rr = new SmoothWeightedRoundRobin([90, 10]);
        var picks = Enumerable.Range(0, 1000).Select(_ => rr.Next()).ToArray();
        Assert.Equal(100, picks.Count(p => p == 1));
        for (int window = 0; window < 1000; window += 10)
        {
            Assert.Equal(1, picks.Skip(window).Take(10).Count(p => p == 1));
        }
    }

    [Fact]
    public void Next_ZeroWeightOrNotAllowed_IsNeverPicked()
    {
        var rr = new SmoothWeightedRoundRobin([1, 0, 1]);
        Assert.All(Enumerable.Range(0, 20).Select(_ => rr.Next(i => i != 2)), p => Assert.Equal(0, p));
        Assert.Equal(-1, rr.Next(_ => false));
    }
}
