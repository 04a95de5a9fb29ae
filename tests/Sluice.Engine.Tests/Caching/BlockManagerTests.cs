using Sluice.Engine.Caching;

namespace Sluice.Engine.Tests.Caching;

public sealed class BlockManagerTests
{
    [Fact]
    public void AllocateAndRelease_TwoBlocks_CountFreeBlocks()
    {
        var m = new BlockManager(4, 16, enablePrefixCaching: true);
        int a = m.Allocate(), b = m.Allocate();
        Assert.Equal(2, m.FreeBlocks);
        Assert.NotEqual(a, b);
        m.Release(a);
        m.Release(b);
        Assert.Equal(4, m.FreeBlocks);
        Assert.Throws<InvalidOperationException>(() => m.Release(a));
    }

    [Fact]
    public void Allocate_WhenEmpty_Throws()
    {
        var m = new BlockManager(1, 16, true);
        m.Allocate();
        Assert.False(m.CanAllocate(1));
        Assert.Throws<InvalidOperationException>(() => m.Allocate());
    }

    [Fact]
    public void TryReuse_CachedFreedBlock_ComesBackOutOfTheFreeList()
    {
        var m = new BlockManager(3, 16, true);
        var h = PrefixHash.Compute(0, [1, 2, 3]);
        int b = m.Allocate();
        m.Register(b, h);
        m.Release(b);
        Assert.Equal(3, m.FreeBlocks);
        Assert.True(m.TryReuse(h, out int again));
        Assert.Equal(b, again);
        Assert.Equal(2, m.FreeBlocks);
        Assert.Equal(1, m.RefCount(b));
    }

    [Fact]
    public void Allocate_CachedFreeBlocks_EvictsTheLeastRecentlyReleasedFirst()
    {
        var m = new BlockManager(2, 16, true);
        int a = m.Allocate(), b = m.Allocate();
        var ha = PrefixHash.Compute(0, [1]);
        var hb = PrefixHash.Compute(0, [2]);
        m.Register(a, ha);
        m.Register(b, hb);
        m.Release(a);
        m.Release(b);
        int c = m.Allocate(); // takes a, released first
        Assert.Equal(a, c);
        Assert.False(m.TryReuse(ha, out _));
        Assert.True(m.TryReuse(hb, out _));
    }

    [Fact]
    public void Share_SecondHolder_KeepsTheBlockUntilEveryHolderReleases()
    {
        var m = new BlockManager(2, 16, true);
        int a = m.Allocate();
        m.Share(a);
        m.Release(a);
        Assert.Equal(1, m.FreeBlocks);
        m.Release(a);
        Assert.Equal(2, m.FreeBlocks);
    }

    [Fact]
    public void TryReuse_PrefixCachingOff_NeverReuses()
    {
        var m = new BlockManager(2, 16, false);
        int a = m.Allocate();
        var h = PrefixHash.Compute(0, [1]);
        m.Register(a, h);
        m.Release(a);
        Assert.False(m.TryReuse(h, out _));
    }
}
