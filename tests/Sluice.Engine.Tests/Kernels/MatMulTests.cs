using Sluice.Engine.Kernels;
using Sluice.Engine.Quantization;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Tests.Kernels;

[Trait("Category", "Kernels")]
public sealed unsafe class MatMulTests
{
    public static TheoryData<GgmlType, int> Cases => new()
    {
        { GgmlType.Q8_0, 96 }, { GgmlType.Q8_0, 64 }, { GgmlType.Q4_0, 96 }, { GgmlType.Q4_0, 160 },
        { GgmlType.Q4_K, 512 }, { GgmlType.Q6_K, 256 }, { GgmlType.Q6_K, 768 }, { GgmlType.F16, 72 }, { GgmlType.F16, 1024 }, { GgmlType.F16, 2048 }, { GgmlType.F16, 4864 }, { GgmlType.BF16, 40 }, { GgmlType.BF16, 256 }, { GgmlType.F32, 33 }, { GgmlType.F32, 72 },
    };

    /// <summary>
    /// Tokens computed together (in full tiles) give bitwise the same results as each token alone, and
    /// both match the scalar reference: the engine's batch invariance rests on this.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Batched_EqualsOneTokenAtATime_AndMatchesReference(GgmlType type, int columns) => CheckBatched(type, columns, 11);

    /// <summary>A handful of tokens (batched decode): small token tiles, leftover tokens and rows.</summary>
    [Theory]
    [InlineData(GgmlType.F16, 96, 4)]
    [InlineData(GgmlType.F16, 2048, 6)]
    [InlineData(GgmlType.Q8_0, 96, 2)]
    [InlineData(GgmlType.Q8_0, 160, 7)]
    [InlineData(GgmlType.Q8_0, 64, 8)]
    [InlineData(GgmlType.Q4_0, 96, 3)]
    [InlineData(GgmlType.Q4_0, 160, 4)]
    public void FewTokens_EqualOneTokenAtATime_AndMatchReference(GgmlType type, int columns, int tokens) => CheckBatched(type, columns, tokens);

    private static void CheckBatched(GgmlType type, int columns, int tokens)
    {
        const int Rows = 22;
        var rng = new Random((int)type * 100 + columns);
        var weights = new byte[Rows * GgmlTypeInfo.RowBytes(type, columns)];
        for (int r = 0; r < Rows; r++)
        {
            byte[] row = type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 ? RowDequantizerTests.FloatRow(type, columns, rng) : RandomBlocks.Row(type, columns, rng);
            row.CopyTo(weights, r * row.Length);
        }
        var x = RandomBlocks.Floats(tokens * columns, rng, 2f);
        using var pool = new WorkerPool(2);
        using var mm = new MatMul(pool);
        var together = new float[tokens * Rows];
        var alone = new float[tokens * Rows];
        using var input = new MatMulInput();
        fixed (byte* wp = weights)
        fixed (float* xp = x, yt = together, ya = alone)
        {
            var w = new WeightMatrix("w", type, Rows, columns, wp);
            input.Set(xp, tokens, columns);
            mm.Run(w, input, yt, Rows);
            for (int t = 0; t < tokens; t++)
            {
                input.Set(xp + t * columns, 1, columns);
                mm.Run(w, input, ya + t * Rows, Rows);
            }
            var floats = new float[columns];
            for (int r = 0; r < Rows; r++)
            {
                fixed (float* wf = floats)
                {
                    RowDecoder.Decode(type, wp + r * w.RowBytes, wf, columns);
                }
                for (int t = 0; t < tokens; t++)
                {
                    double exact = 0, mag = 0;
                    for (int i = 0; i < columns; i++)
                    {
                        exact += floats[i] * x[t * columns + i];
                        mag += Math.Abs(floats[i] * x[t * columns + i]);
                    }
                    // quantized activations (8-bit) allow about 1 % of the magnitude; float types far less
                    double tol = GgmlTypeInfo.IsQuantized(type) ? 0.02 * mag + 1e-4 : 1e-2 * mag / Math.Sqrt(columns) + 1e-4;
                    Assert.True(Math.Abs(together[t * Rows + r] - exact) <= tol, $"{type} r={r} t={t}: {together[t * Rows + r]} vs {exact} (path {Simd.Describe()})");
                }
            }
        }
        for (int i = 0; i < together.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(together[i]) == BitConverter.SingleToInt32Bits(alone[i]),
                $"{type}: output {i} differs between batched ({together[i]}) and single-token ({alone[i]}) runs");
        }
    }

    /// <summary>
    /// At the edges of the half range (subnormal halves, ±65504, signed zeros, inputs near the half
    /// limits, an infinity in the weights) single-token F16 matmuls give bitwise the batched results;
    /// a matrix holding an infinity is not packed and takes the one-row recipe.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void F16_EdgeValues_DecodeEqualsBatched(bool withInfinity)
    {
        const int Rows = 21, Columns = 64, Tokens = 5;
        var rng = new Random(withInfinity ? 7 : 8);
        ushort[] edges = { 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x0000, 0x8000, 0x3C00, 0x0200 };
        var halves = new ushort[Rows * Columns];
        for (int i = 0; i < halves.Length; i++)
        {
            halves[i] = rng.Next(3) == 0 ? edges[rng.Next(edges.Length)] : (ushort)BitConverter.HalfToUInt16Bits((Half)((rng.NextDouble() - 0.5) * 4));
        }
        if (withInfinity)
        {
            halves[3 * Columns + 17] = 0x7C00;
        }
        float[] inputs = { 65504f, -65504f, 6e-8f, -3e-5f, 0f, 1f, 1e-3f, 60000f };
        var x = new float[Tokens * Columns];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = rng.Next(4) == 0 ? inputs[rng.Next(inputs.Length)] * (float)rng.NextDouble() : (float)(rng.NextDouble() - 0.5);
        }
        using var pool = new WorkerPool(2);
        using var mm = new MatMul(pool);
        using var input = new MatMulInput();
        var together = new float[Tokens * Rows];
        var alone = new float[Tokens * Rows];
        fixed (ushort* hp = halves)
        fixed (float* xp = x, yt = together, ya = alone)
        {
            var w = new WeightMatrix("w", GgmlType.F16, Rows, Columns, (byte*)hp);
            Assert.Equal(!withInfinity && Simd.Use256, w.Packed != null);
            input.Set(xp, Tokens, Columns);
            mm.Run(w, input, yt, Rows);
            for (int t = 0; t < Tokens; t++)
            {
                input.Set(xp + t * Columns, 1, Columns);
                mm.Run(w, input, ya + t * Rows, Rows);
            }
        }
        for (int i = 0; i < together.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(together[i]) == BitConverter.SingleToInt32Bits(alone[i]) || (float.IsNaN(together[i]) && float.IsNaN(alone[i])),
                $"output {i}: batched {together[i]:R}, single-token {alone[i]:R}");
        }
        if (withInfinity)
        {
            Assert.Contains(Enumerable.Range(0, Tokens), t => !float.IsFinite(alone[t * Rows + 3]));
        }
    }
}
