using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels.Tiles;

/// <summary>
/// Tiles for Q8_0/Q4_0 weights x Q8_0 activations, two 32-blocks per 512-bit step. Per pair and
/// step: madd(maddubs(|w|, ±x), 1) gives 8 int32 lanes per block, the format's offset correction
/// applies in int, then acc = fma(float(lanes), dw * dx, acc). Weights are decoded once per tile row,
/// activations once per tile column.
/// </summary>
internal sealed unsafe class BlockPairTiles<TFormat> : IQuantTileKernel where TFormat : struct, IBlockPairFormat
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Step(Vector512<float> acc, Vector512<byte> mag, Vector512<sbyte> neg, Vector512<float> dw,
        Vector512<sbyte> x, Vector512<sbyte> minusX, Vector512<float> dx, Vector512<int> xsum)
    {
        var sums = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(mag, TFormat.Signed(x, minusX, neg)), Vector512<short>.One);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(TFormat.Correct(sums, xsum)), dw * dx, acc);
    }

    /// <summary>Activation blocks b, b+1 of one token: values, negated values, scales and (Q4_0) 8 * sum / 8 per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadX(QuantizedActivations a, int t, int b, bool single, out Vector512<sbyte> x, out Vector512<sbyte> minusX, out Vector512<float> dx, out Vector512<int> xsum)
    {
        sbyte* q = a.Qs(t) + b * 32;
        float* s = a.Scales(t) + b;
        int* sum = a.Sums(t) + b;
        x = single ? Vector512.Create(Vector256.Load(q), Vector256<sbyte>.Zero) : Vector512.Load(q);
        minusX = Vector512<sbyte>.Zero - x;
        dx = Vector512.Create(Vector256.Create(s[0]), Vector256.Create(single ? 0f : s[1]));
        xsum = Vector512.Create(Vector256.Create(sum[0]), Vector256.Create(single ? 0 : sum[1]));
    }

    public static int TileRows => 4;

    public static int TileTokens => 4;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileFull(WeightMatrix w, int r, QuantizedActivations a, int t, float* y, int ys)
    {
        long rb = w.RowBytes;
        int bb = TFormat.BlockBytes;
        byte* w0 = w.Row(r), w1 = w0 + rb, w2 = w1 + rb, w3 = w2 + rb;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        int blocks = w.Columns / 32;
        for (int b = 0; b < blocks; b += 2)
        {
            bool single = b + 1 == blocks;
            int o = b * bb;
            TFormat.Load(w0 + o, single, out var m0, out var n0, out var d0);
            TFormat.Load(w1 + o, single, out var m1, out var n1, out var d1);
            TFormat.Load(w2 + o, single, out var m2, out var n2, out var d2);
            TFormat.Load(w3 + o, single, out var m3, out var n3, out var d3);
            LoadX(a, t, b, single, out var x, out var nx, out var dx, out var xs);
            c00 = Step(c00, m0, n0, d0, x, nx, dx, xs); c10 = Step(c10, m1, n1, d1, x, nx, dx, xs);
            c20 = Step(c20, m2, n2, d2, x, nx, dx, xs); c30 = Step(c30, m3, n3, d3, x, nx, dx, xs);
            LoadX(a, t + 1, b, single, out x, out nx, out dx, out xs);
            c01 = Step(c01, m0, n0, d0, x, nx, dx, xs); c11 = Step(c11, m1, n1, d1, x, nx, dx, xs);
            c21 = Step(c21, m2, n2, d2, x, nx, dx, xs); c31 = Step(c31, m3, n3, d3, x, nx, dx, xs);
            LoadX(a, t + 2, b, single, out x, out nx, out dx, out xs);
            c02 = Step(c02, m0, n0, d0, x, nx, dx, xs); c12 = Step(c12, m1, n1, d1, x, nx, dx, xs);
            c22 = Step(c22, m2, n2, d2, x, nx, dx, xs); c32 = Step(c32, m3, n3, d3, x, nx, dx, xs);
            LoadX(a, t + 3, b, single, out x, out nx, out dx, out xs);
            c03 = Step(c03, m0, n0, d0, x, nx, dx, xs); c13 = Step(c13, m1, n1, d1, x, nx, dx, xs);
            c23 = Step(c23, m2, n2, d2, x, nx, dx, xs); c33 = Step(c33, m3, n3, d3, x, nx, dx, xs);
        }
        float* y0 = y + (long)t * ys + r, y1 = y0 + ys, y2 = y1 + ys, y3 = y2 + ys;
        y0[0] = Vector512.Sum(c00); y0[1] = Vector512.Sum(c10); y0[2] = Vector512.Sum(c20); y0[3] = Vector512.Sum(c30);
        y1[0] = Vector512.Sum(c01); y1[1] = Vector512.Sum(c11); y1[2] = Vector512.Sum(c21); y1[3] = Vector512.Sum(c31);
        y2[0] = Vector512.Sum(c02); y2[1] = Vector512.Sum(c12); y2[2] = Vector512.Sum(c22); y2[3] = Vector512.Sum(c32);
        y3[0] = Vector512.Sum(c03); y3[1] = Vector512.Sum(c13); y3[2] = Vector512.Sum(c23); y3[3] = Vector512.Sum(c33);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileRowsX1(WeightMatrix w, int r, QuantizedActivations a, int t, float* y, int ys)
    {
        long rb = w.RowBytes;
        int bb = TFormat.BlockBytes;
        byte* w0 = w.Row(r), w1 = w0 + rb, w2 = w1 + rb, w3 = w2 + rb;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int blocks = w.Columns / 32;
        for (int b = 0; b < blocks; b += 2)
        {
            bool single = b + 1 == blocks;
            int o = b * bb;
            LoadX(a, t, b, single, out var x, out var nx, out var dx, out var xs);
            TFormat.Load(w0 + o, single, out var m, out var n, out var d);
            c0 = Step(c0, m, n, d, x, nx, dx, xs);
            TFormat.Load(w1 + o, single, out m, out n, out d);
            c1 = Step(c1, m, n, d, x, nx, dx, xs);
            TFormat.Load(w2 + o, single, out m, out n, out d);
            c2 = Step(c2, m, n, d, x, nx, dx, xs);
            TFormat.Load(w3 + o, single, out m, out n, out d);
            c3 = Step(c3, m, n, d, x, nx, dx, xs);
        }
        float* y0 = y + (long)t * ys + r;
        y0[0] = Vector512.Sum(c0); y0[1] = Vector512.Sum(c1); y0[2] = Vector512.Sum(c2); y0[3] = Vector512.Sum(c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile1x1(WeightMatrix w, int r, QuantizedActivations a, int t, float* y, int ys)
    {
        int bb = TFormat.BlockBytes;
        byte* w0 = w.Row(r);
        Vector512<float> c0 = default;
        int blocks = w.Columns / 32;
        for (int b = 0; b < blocks; b += 2)
        {
            bool single = b + 1 == blocks;
            LoadX(a, t, b, single, out var x, out var nx, out var dx, out var xs);
            TFormat.Load(w0 + b * bb, single, out var m, out var n, out var d);
            c0 = Step(c0, m, n, d, x, nx, dx, xs);
        }
        y[(long)t * ys + r] = Vector512.Sum(c0);
    }
}
