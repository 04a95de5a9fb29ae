using Sluice.Engine.Caching;

namespace Sluice.Engine.Tests.Caching;

public sealed class PrefixHashTests
{
    [Fact]
    public void Compute_SameTokens_EqualAndChainTheParent()
    {
        var root = PrefixHash.Compute(0, [1, 2]);
        Assert.Equal(root, PrefixHash.Compute(0, [1, 2]));
        Assert.NotEqual(PrefixHash.Compute(root, [3]), PrefixHash.Compute(PrefixHash.Compute(0, [9, 9]), [3]));
    }
}
