using Sluice.Engine.Kernels;
using Sluice.Engine.Kernels.Gemm;
using Sluice.Engine.Quantization;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Tests.Kernels;

/// <summary>
/// F16 matmuls over packed 16-row groups and column-interleaved token tiles: whatever the number of
/// rows, tokens or tasks (every tile width, multi-group calls, leftover and partial groups), each output
/// is bitwise the one-row recipe (<see cref="F16Kernels.Dot"/>) on the input rounded to halves.
/// </summary>
[Trait("Category", "Kernels")]
public sealed unsafe class F16KernelTests
{
    [Theory]
    [InlineData(16, 32, 1)]
    [InlineData(64, 48, 1)]
    [InlineData(75, 40, 2)]
    [InlineData(150, 24, 3)]
    [InlineData(150, 24, 7)]
    [InlineData(37, 96, 31)]
    [InlineData(300, 16, 40)]
    [InlineData(16, 8, 16)]
    [InlineData(9, 32, 3)]
    public void MatMul_EqualsOneRowRecipe(int rows, int columns, int tokens)
    {
        var rng = new Random(rows * 1000 + columns * 10 + tokens);
        ushort[] edges = { 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x0000, 0x8000, 0x3C00 };
        var halves = new ushort[rows * columns];
        for (int i = 0; i < halves.Length; i++)
        {
            halves[i] = rng.Next(8) == 0 ? edges[rng.Next(edges.Length)] : BitConverter.HalfToUInt16Bits((Half)((rng.NextDouble() - 0.5) * 4));
        }
        var x = RandomBlocks.Floats(tokens * columns, rng, 3f);
        var y = new float[tokens * rows];
        using var pool = new WorkerPool(2);
        using var mm = new MatMul(pool);
        using var input = new MatMulInput();
        fixed (ushort* hp = halves)
        fixed (float* xp = x, yp = y)
        {
            var w = new WeightMatrix("w", GgmlType.F16, rows, columns, (byte*)hp);
            input.Set(xp, tokens, columns);
            mm.Run(w, input, yp, rows);
            Assert.Equal(rows >= 16 && Simd.Use256, w.Packed != null);
            var rounded = new float[columns];
            fixed (float* rp = rounded)
            {
                for (int t = 0; t < tokens; t++)
                {
                    for (int i = 0; i < columns; i++)
                    {
                        rounded[i] = HalfVectors.RoundToHalf(x[t * columns + i]);
                    }
                    for (int r = 0; r < rows; r++)
                    {
                        float expected = F16Kernels.Dot((byte*)(hp + r * columns), rp, columns);
                        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(y[t * rows + r]),
                            $"row {r} token {t}: {y[t * rows + r]:R}, recipe {expected:R} (path {Simd.Describe()})");
                    }
                }
            }
        }
    }

    [Fact]
    public void Packing_MarksExactlyTheColumnsHoldingSubnormals_PerGroup()
    {
        if (!Simd.Use256)
        {
            return; // nothing is packed without AVX2
        }
        const int rows = 40, columns = 130; // groups: rows 0-15, 16-31 and the last 16 rows (24-39)
        var halves = new ushort[rows * columns];
        for (int i = 0; i < halves.Length; i++)
        {
            halves[i] = 0x3C00; // 1.0
        }
        halves[3 * columns + 5] = 0x0001;    // group 0, column 5
        halves[17 * columns + 64] = 0x83FF;  // group 1, column 64 (second word)
        halves[30 * columns + 129] = 0x0200; // groups 1 and 2 (rows 24-39 overlap), column 129
        halves[36 * columns + 7] = 0x8000;   // negative zero: not subnormal
        halves[38 * columns + 8] = 0x0400;   // the smallest normal: not subnormal
        fixed (ushort* hp = halves)
        {
            var w = new WeightMatrix("w", GgmlType.F16, rows, columns, (byte*)hp);
            Assert.True(w.Packed != null);
            int words = w.SubnormalWords;
            Assert.Equal(3, words);
            var marked = new List<(int Group, int Column)>();
            for (int g = 0; g < 3; g++)
            {
                for (int c = 0; c < columns; c++)
                {
                    if (((w.F16SubnormalColumns[g * words + c / 64] >> (c % 64)) & 1) != 0)
                    {
                        marked.Add((g, c));
                    }
                }
            }
            Assert.Equal([(0, 5), (1, 64), (1, 129), (2, 129)], marked);
        }
    }

    [Fact]
    public void TokenTiles_CoverEveryTokenOnce_WidestFirst()
    {
        for (int n = 1; n <= 70; n++)
        {
            int start = 0;
            var widths = new List<int>();
            for (int index = 0; index < F16Kernels.TileCount(n); index++)
            {
                var (first, width) = F16Kernels.Tile(index, n);
                Assert.Equal(start, first);
                Assert.Equal(F16Kernels.TileWidth(n - start), width);
                widths.Add(width);
                start += width;
            }
            Assert.Equal(n, start);
            Assert.Equal(widths.OrderByDescending(v => v), widths);
            Assert.True(widths.Count(v => v < 16) == widths.Where(v => v < 16).Distinct().Count(), $"n={n}: {string.Join(",", widths)}");
        }
    }
}
