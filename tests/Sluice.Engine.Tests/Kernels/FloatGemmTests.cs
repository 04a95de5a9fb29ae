using Sluice.Engine.Kernels.Gemm;

namespace Sluice.Engine.Tests.Kernels;

[Trait("Category", "Kernels")]
public sealed unsafe class FloatGemmTests
{
    [Fact]
    public void Dot_MatchesDoubleReference_AtEveryLengthTo257()
    {
        var rng = new Random(1);
        for (int n = 0; n <= 257; n++)
        {
            var w = RandomBlocks.Floats(n, rng);
            var x = RandomBlocks.Floats(n, rng);
            double exact = 0;
            for (int i = 0; i < n; i++)
            {
                exact += (double)w[i] * x[i];
            }
            fixed (float* wp = w, xp = x)
            {
                Assert.Equal(exact, FloatGemm.Dot(wp, xp, n), 1e-5 * (n + 1));
            }
        }
    }

    /// <summary>A result does not depend on the tile it was computed in.</summary>
    [Theory]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(96)]
    [InlineData(250)]
    [InlineData(896)]
    public void Tiles_EqualDotBitForBit(int k)
    {
        var rng = new Random(k);
        var w = RandomBlocks.Floats(4 * k, rng);
        var x = RandomBlocks.Floats(4 * k, rng);
        var tile = new float[16];
        var col = new float[4];
        fixed (float* wp = w, xp = x, tp = tile, cp = col)
        {
            FloatGemm.Tile4x4(wp, k, xp, k, k, tp);
            for (int t = 0; t < 4; t++)
            {
                FloatGemm.Tile4x1(wp, k, xp + t * k, k, cp);
                for (int r = 0; r < 4; r++)
                {
                    float dot = FloatGemm.Dot(wp + r * k, xp + t * k, k);
                    Assert.Equal(BitConverter.SingleToInt32Bits(dot), BitConverter.SingleToInt32Bits(tile[t * 4 + r]));
                    Assert.Equal(BitConverter.SingleToInt32Bits(dot), BitConverter.SingleToInt32Bits(col[r]));
                }
            }
        }
    }
}
