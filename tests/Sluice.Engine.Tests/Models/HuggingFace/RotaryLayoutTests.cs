using Sluice.Engine.Kernels;
using Sluice.Engine.Models.HuggingFace;

namespace Sluice.Engine.Tests.Models.HuggingFace;

/// <summary>
/// Why a checkpoint can be loaded without llama.cpp's q/k permutation: rotate-half (NeoX) RoPE on the
/// checkpoint's row order equals adjacent-pair RoPE on the permuted order, element for element.
/// </summary>
public sealed unsafe class RotaryLayoutTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(16)]
    [InlineData(64)]
    [InlineData(128)]
    public void GgufRowForHfRow_AnyHeadDim_IsABijectionItsInverseUndoes(int headDim)
    {
        int rows = 3 * headDim;
        var seen = new bool[rows];
        for (int r = 0; r < rows; r++)
        {
            int g = RotaryPermutation.GgufRowForHfRow(r, headDim);
            Assert.False(seen[g]);
            seen[g] = true;
            Assert.Equal(r, RotaryPermutation.HfRowForGgufRow(g, headDim));
            Assert.Equal(r / headDim, g / headDim);
        }
    }

    [Theory]
    [InlineData(16, 0)]
    [InlineData(16, 37)]
    [InlineData(64, 1000)]
    public void Rope_NeoXOnCheckpointOrder_EqualsNormalOnGgufOrder(int headDim, int position)
    {
        const int Heads = 3;
        var random = new Random(headDim + position);
        var hf = Enumerable.Range(0, Heads * headDim).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        var gguf = new float[hf.Length];
        for (int r = 0; r < hf.Length; r++)
        {
            gguf[RotaryPermutation.GgufRowForHfRow(r, headDim)] = hf[r];
        }
        var cos = new float[headDim / 2];
        var sin = new float[headDim / 2];
        fixed (float* c = cos, s = sin, a = hf, b = gguf)
        {
            Rope.Angles(position, headDim, 10000f, c, s);
            Rope.Apply(a, Heads, headDim, c, s, RopeLayout.NeoX);
            Rope.Apply(b, Heads, headDim, c, s, RopeLayout.Normal);
        }
        for (int r = 0; r < hf.Length; r++)
        {
            Assert.Equal(hf[r], gguf[RotaryPermutation.GgufRowForHfRow(r, headDim)]);
        }
    }
}
