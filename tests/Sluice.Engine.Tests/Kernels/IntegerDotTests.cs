using Sluice.Engine.Kernels;
using Sluice.Engine.Kernels.Gemm;
using Sluice.Engine.Quantization;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Tests.Kernels;

/// <summary>
/// Integer block-dot matmuls (Q4_0 and Q8_0 weights against Q8_0 activation blocks, Q6_K and Q4_K against Q8_K):
/// the packed 16-row kernels, whatever the number of rows, tokens or tasks, give bitwise what the one-row
/// recipe gives.
/// </summary>
[Trait("Category", "Kernels")]
public sealed unsafe class IntegerDotTests
{
    [Theory]
    [InlineData(GgmlType.Q4_0, 16, 32, 1)]
    [InlineData(GgmlType.Q4_0, 22, 96, 3)]
    [InlineData(GgmlType.Q4_0, 48, 256, 1)]
    [InlineData(GgmlType.Q4_0, 53, 96, 17)]
    [InlineData(GgmlType.Q4_0, 7, 64, 2)]
    [InlineData(GgmlType.Q4_0, 130, 64, 5)]
    [InlineData(GgmlType.Q8_0, 16, 32, 1)]
    [InlineData(GgmlType.Q8_0, 22, 96, 3)]
    [InlineData(GgmlType.Q8_0, 53, 96, 17)]
    [InlineData(GgmlType.Q8_0, 9, 64, 2)]
    [InlineData(GgmlType.Q8_0, 130, 64, 5)]
    [InlineData(GgmlType.Q8_0, 67, 896, 40)]
    [InlineData(GgmlType.Q4_0, 67, 896, 40)]
    [InlineData(GgmlType.Q8_0, 33, 128, 150)]
    [InlineData(GgmlType.Q8_0, 16, 64, 4)]
    [InlineData(GgmlType.Q8_0, 19, 96, 7)]
    [InlineData(GgmlType.Q4_0, 33, 128, 150)]
    [InlineData(GgmlType.Q6_K, 16, 256, 1)]
    [InlineData(GgmlType.Q6_K, 22, 512, 3)]
    [InlineData(GgmlType.Q6_K, 37, 256, 17)]
    [InlineData(GgmlType.Q6_K, 5, 256, 2)]
    [InlineData(GgmlType.Q6_K, 33, 512, 150)]
    [InlineData(GgmlType.Q6_K, 48, 768, 40)]
    [InlineData(GgmlType.Q4_K, 16, 256, 1)]
    [InlineData(GgmlType.Q4_K, 22, 512, 3)]
    [InlineData(GgmlType.Q4_K, 37, 256, 17)]
    [InlineData(GgmlType.Q4_K, 5, 256, 2)]
    [InlineData(GgmlType.Q4_K, 33, 512, 150)]
    [InlineData(GgmlType.Q4_K, 48, 768, 40)]
    // one token (the AVX2 class's decode kernels), a last group overlapping the one before, several super-blocks
    [InlineData(GgmlType.Q6_K, 37, 768, 1)]
    [InlineData(GgmlType.Q6_K, 130, 512, 1)]
    [InlineData(GgmlType.Q6_K, 5, 256, 1)]
    [InlineData(GgmlType.Q4_K, 37, 768, 1)]
    [InlineData(GgmlType.Q4_K, 130, 512, 1)]
    [InlineData(GgmlType.Q4_K, 5, 256, 1)]
    public void MatMulEqualsOneRowRecipe(GgmlType type, int rows, int columns, int tokens) => Check(type, rows, columns, tokens, EdgeScales: false, Poison: 0);

    /// <summary>
    /// Subnormal, largest and negative half scales, large activations (the 2^-112 / 2^112 scale split is
    /// exact) and, for Q8_0, weights of -128 (which only a foreign quantizer writes); for Q6_K, sub-block
    /// scales of -128 and 127; for Q4_K, extreme mins scales and every 6-bit scale and min at 63.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0, 4)]
    [InlineData(GgmlType.Q8_0, 4)]
    [InlineData(GgmlType.Q6_K, 4)]
    [InlineData(GgmlType.Q4_K, 4)]
    [InlineData(GgmlType.Q4_0, 1)]
    [InlineData(GgmlType.Q8_0, 1)]
    [InlineData(GgmlType.Q6_K, 1)]
    [InlineData(GgmlType.Q4_K, 1)]
    public void ExtremeValues_MatchRecipe(GgmlType type, int tokens) => Check(type, 37, type is GgmlType.Q6_K or GgmlType.Q4_K ? 512 : 128, tokens, EdgeScales: true, Poison: 0);

    /// <summary>
    /// An infinite or NaN scale keeps a Q4_0/Q8_0 matrix off the packed kernel (Q6_K widens its scales
    /// exactly and stays on it); results still match the recipe.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0, (ushort)0x7C00)]
    [InlineData(GgmlType.Q4_0, (ushort)0x7E00)]
    [InlineData(GgmlType.Q8_0, (ushort)0xFC00)]
    [InlineData(GgmlType.Q6_K, (ushort)0x7E00)]
    [InlineData(GgmlType.Q4_K, (ushort)0x7C00)]
    public void NonFiniteScale_FallsBackToRecipe(GgmlType type, ushort poison) => Check(type, 32, type is GgmlType.Q6_K or GgmlType.Q4_K ? 512 : 64, 3, EdgeScales: false, Poison: poison);

    private static void Check(GgmlType type, int rows, int columns, int tokens, bool EdgeScales, ushort Poison)
    {
        var rng = new Random(rows * 1000 + columns + tokens + (int)type);
        long rb = GgmlTypeInfo.RowBytes(type, columns);
        int blockElements = GgmlTypeInfo.BlockElements(type);
        int blockBytes = (int)(rb / (columns / blockElements));
        int scaleAt = type == GgmlType.Q6_K ? 208 : 0;
        var weights = new byte[rows * rb];
        for (int r = 0; r < rows; r++)
        {
            RandomBlocks.Row(type, columns, rng).CopyTo(weights, r * rb);
        }
        ushort[] edges = [0x0001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x8001, 0x0000];
        if (EdgeScales)
        {
            for (int i = 0; i < rows * columns / blockElements; i += type == GgmlType.Q6_K ? 1 : 3)
            {
                BitConverter.TryWriteBytes(weights.AsSpan(i * blockBytes + scaleAt), edges[rng.Next(edges.Length)]);
                if (type == GgmlType.Q8_0)
                {
                    weights[i * blockBytes + 2 + rng.Next(32)] = 0x80;
                }
                if (type == GgmlType.Q4_K)
                {
                    BitConverter.TryWriteBytes(weights.AsSpan(i * blockBytes + 2), edges[rng.Next(edges.Length)]);
                    weights.AsSpan(i * blockBytes + 4, 12).Fill(0xFF); // every 6-bit scale and min 63
                }
                if (type == GgmlType.Q6_K)
                {
                    weights[i * blockBytes + 192 + rng.Next(16)] = 0x80;
                    weights[i * blockBytes + 192 + rng.Next(16)] = 0x7F;
                }
            }
        }
        if (Poison != 0)
        {
            BitConverter.TryWriteBytes(weights.AsSpan((int)(rows / 2 * rb + scaleAt + (columns > blockElements ? blockBytes : 0))), Poison);
        }
        var x = RandomBlocks.Floats(tokens * columns, rng, EdgeScales ? 3000f : 2f);
        using var pool = new WorkerPool(2);
        using var mm = new MatMul(pool);
        using var input = new MatMulInput();
        var y = new float[tokens * rows];
        fixed (byte* wp = weights)
        fixed (float* xp = x, yp = y)
        {
            var w = new WeightMatrix("w", type, rows, columns, wp);
            input.Set(xp, tokens, columns);
            mm.Run(w, input, yp, rows);
            bool packedKernels = Simd.Use256;
            Assert.Equal(packedKernels && rows >= 16 && (Poison == 0 || type is GgmlType.Q6_K or GgmlType.Q4_K), w.Packed != null);
            for (int r = 0; r < rows; r++)
            {
                for (int t = 0; t < tokens; t++)
                {
                    float expected = type switch
                    {
                        GgmlType.Q4_0 => Q4_0Kernels.Dot(wp + r * rb, columns / 32, input.Q8_0Blocks(pool), t),
                        GgmlType.Q8_0 => Q8_0Kernels.Dot(wp + r * rb, columns / 32, input.Q8_0Blocks(pool), t),
                        GgmlType.Q4_K => Q4_KKernels.Dot(wp + r * rb, columns / 256, input.Q8_KBlocks(pool), t),
                        _ => Q6_KKernels.Dot(wp + r * rb, columns / 256, input.Q8_KBlocks(pool), t),
                    };
                    float got = y[t * rows + r];
                    Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(got) || (float.IsNaN(expected) && float.IsNaN(got)),
                        $"row {r} token {t}: {got:R} vs recipe {expected:R} (path {Simd.Describe()})");
                }
            }
        }
    }
}
