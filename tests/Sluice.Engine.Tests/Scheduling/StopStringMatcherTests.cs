using Sluice.Engine.Scheduling;

namespace Sluice.Engine.Tests.Scheduling;

public sealed class StopStringMatcherTests
{
    [Fact]
    public void Push_StopSplitAcrossPieces_HoldsBackThenStops()
    {
        var m = new StopStringMatcher(["END"]);
        Assert.Equal(("hello ", (string?)null), m.Push("hello E", false));
        Assert.Equal(("", (string?)null), m.Push("N", false));
        Assert.Equal(("", "END"), m.Push("D and more", false));
    }

    [Fact]
    public void Push_FalseStart_ReleasesHeldText()
    {
        var m = new StopStringMatcher(["END"]);
        Assert.Equal("ab", m.Push("abE", false).Emit);
        Assert.Equal("EX", m.Push("X", false).Emit);
    }

    [Fact]
    public void Push_IncludeStop_EmitsTheStopString()
    {
        var m = new StopStringMatcher(["\n\n", "###"]);
        Assert.Equal(("text###", "###"), m.Push("text###tail", true));
    }

    [Fact]
    public void Push_SeveralStopsInTheText_EarliestWins()
    {
        var m = new StopStringMatcher(["b", "a"]);
        Assert.Equal(("x", "a"), m.Push("xab", false));
    }

    [Fact]
    public void Flush_HeldText_IsReturned()
    {
        var m = new StopStringMatcher(["STOP"]);
        Assert.Equal("go ", m.Push("go ST", false).Emit);
        Assert.Equal("ST", m.Flush());
    }

    [Fact]
    public void Push_NoStops_PassesThrough()
    {
        var m = new StopStringMatcher([]);
        Assert.Equal(("anything", (string?)null), m.Push("anything", false));
    }
}
