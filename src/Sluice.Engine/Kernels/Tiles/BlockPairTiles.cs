using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels.Tiles;

/// <summary>
/// Tiles for Q8_0/Q4_0 weights x Q8_0 activations, two 32-blocks per 512-bit step, 4 rows x 3 tokens
/// (12 accumulators plus decoded weights fit the 32 registers). Per pair and step:
/// madd(maddubs(|w|, ±x), 1) gives 8 int32 lanes per block, the format's offset correction applies in
/// int, then acc = fma(float(lanes), dw * dx, acc). An odd last block is padded with a zero block
/// (through small stack copies), so every variant runs the same operations per pair.
/// </summary>
internal sealed unsafe class BlockPairTiles<TFormat> : IQuantTileKernel where TFormat : struct, IBlockPairFormat
{
    public static int TileRows => 4;

    public static int TileTokens => 3;

    /// <summary>One token's activation rows as raw pointers (no calls inside the kernels' loops).</summary>
    private readonly struct X(QuantizedActivations a, int t)
    {
        public readonly sbyte* Q = a.Qs(t);
        public readonly float* S = a.Scales(t);
        public readonly int* Sum = a.Sums(t);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Step(Vector512<float> acc, Vector512<byte> mag, Vector512<sbyte> neg, Vector512<float> dw,
        Vector512<sbyte> x, Vector512<sbyte> minusX, Vector512<float> dx, Vector512<int> xsum)
    {
        var signed = TFormat.Signed ? Vector512.ConditionalSelect(neg, minusX, x) : x;
        var sums = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(mag, signed), Vector512<short>.One);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(TFormat.Correct(sums, xsum)), dw * dx, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Dx(float* s) => Vector512.Create(Vector256.Create(s[0]), Vector256.Create(s[1]));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> XSum(int* s) => TFormat.Signed ? default : Vector512.Create(Vector256.Create(s[0]), Vector256.Create(s[1]));

    /// <summary>Copies an odd last block (weights of <paramref name="rows"/> rows, and a token's activations) next to a zero block.</summary>
    private static void PadWeights(byte* row, long rowBytes, int rows, int lastBlock, byte* dst)
    {
        int bb = TFormat.BlockBytes;
        for (int i = 0; i < rows; i++)
        {
            var d = new Span<byte>(dst + i * 2 * bb, 2 * bb);
            d.Clear();
            new ReadOnlySpan<byte>(row + i * rowBytes + lastBlock * bb, bb).CopyTo(d);
        }
    }

    private static X PadX(X x, int lastBlock, sbyte* q, float* s, int* sum)
    {
        new ReadOnlySpan<sbyte>(x.Q + lastBlock * 32, 32).CopyTo(new Span<sbyte>(q, 32));
        new Span<sbyte>(q + 32, 32).Clear();
        s[0] = x.S[lastBlock];
        s[1] = 0;
        sum[0] = x.Sum[lastBlock];
        sum[1] = 0;
        return default;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileFull(WeightMatrix w, int r, QuantizedActivations a, int t, float* y, int ys)
    {
        var x0 = new X(a, t);
        var x1 = new X(a, t + 1);
        var x2 = new X(a, t + 2);
        float* y0 = y + (long)t * ys + r;
        Kernel3(w.Row(r), w.RowBytes, w.Columns / 32, HalfTable.Table, x0.Q, x0.S, x0.Sum, x1.Q, x1.S, x1.Sum, x2.Q, x2.S, x2.Sum, y0, ys, accumulate: false);
        if ((w.Columns / 32 & 1) == 1)
        {
            // odd block count: the last block and a zero block, as one more pair step
            int last = w.Columns / 32 - 1;
            byte* wpad = stackalloc byte[8 * TFormat.BlockBytes];
            PadWeights(w.Row(r), w.RowBytes, 4, last, wpad);
            sbyte* q = stackalloc sbyte[64 * 3];
            float* s = stackalloc float[6];
            int* sum = stackalloc int[6];
            PadX(x0, last, q, s, sum);
            PadX(x1, last, q + 64, s + 2, sum + 2);
            PadX(x2, last, q + 128, s + 4, sum + 4);
            Kernel3(wpad, 2 * TFormat.BlockBytes, 2, HalfTable.Table, q, s, sum, q + 64, s + 2, sum + 2, q + 128, s + 4, sum + 4, y0, ys, accumulate: true);
        }
    }

    // 4 rows x 3 tokens over `blocks` blocks (even), writing or adding to y
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel3(byte* w0, long rb, int blocks, float* table,
        sbyte* q0, float* s0, int* m0, sbyte* q1, float* s1, int* m1, sbyte* q2, float* s2, int* m2, float* y, int ys, bool accumulate)
    {
        byte* w1 = w0 + rb, w2 = w1 + rb, w3 = w2 + rb;
        Vector512<float> c00 = default, c01 = default, c02 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default;
        int bb = TFormat.BlockBytes;
        for (int b = 0; b + 1 < blocks; b += 2)
        {
            int o = b * bb;
            var a0 = TFormat.Magnitude(w0 + o); var n0 = TFormat.Negative(w0 + o); var d0 = TFormat.Scale(w0 + o, table);
            var a1 = TFormat.Magnitude(w1 + o); var n1 = TFormat.Negative(w1 + o); var d1 = TFormat.Scale(w1 + o, table);
            var a2 = TFormat.Magnitude(w2 + o); var n2 = TFormat.Negative(w2 + o); var d2 = TFormat.Scale(w2 + o, table);
            var a3 = TFormat.Magnitude(w3 + o); var n3 = TFormat.Negative(w3 + o); var d3 = TFormat.Scale(w3 + o, table);

            var x = Vector512.Load(q0 + b * 32); var nx = Vector512<sbyte>.Zero - x; var dx = Dx(s0 + b); var xs = XSum(m0 + b);
            c00 = Step(c00, a0, n0, d0, x, nx, dx, xs); c10 = Step(c10, a1, n1, d1, x, nx, dx, xs);
            c20 = Step(c20, a2, n2, d2, x, nx, dx, xs); c30 = Step(c30, a3, n3, d3, x, nx, dx, xs);
            x = Vector512.Load(q1 + b * 32); nx = Vector512<sbyte>.Zero - x; dx = Dx(s1 + b); xs = XSum(m1 + b);
            c01 = Step(c01, a0, n0, d0, x, nx, dx, xs); c11 = Step(c11, a1, n1, d1, x, nx, dx, xs);
            c21 = Step(c21, a2, n2, d2, x, nx, dx, xs); c31 = Step(c31, a3, n3, d3, x, nx, dx, xs);
            x = Vector512.Load(q2 + b * 32); nx = Vector512<sbyte>.Zero - x; dx = Dx(s2 + b); xs = XSum(m2 + b);
            c02 = Step(c02, a0, n0, d0, x, nx, dx, xs); c12 = Step(c12, a1, n1, d1, x, nx, dx, xs);
            c22 = Step(c22, a2, n2, d2, x, nx, dx, xs); c32 = Step(c32, a3, n3, d3, x, nx, dx, xs);
        }
        Store(y, accumulate, c00, c10, c20, c30);
        Store(y + ys, accumulate, c01, c11, c21, c31);
        Store(y + 2 * ys, accumulate, c02, c12, c22, c32);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, bool accumulate, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        if (accumulate)
        {
            y[0] += Vector512.Sum(a); y[1] += Vector512.Sum(b); y[2] += Vector512.Sum(c); y[3] += Vector512.Sum(d);
        }
        else
        {
            y[0] = Vector512.Sum(a); y[1] = Vector512.Sum(b); y[2] = Vector512.Sum(c); y[3] = Vector512.Sum(d);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileRowsX1(WeightMatrix w, int r, QuantizedActivations a, int t, float* y, int ys)
    {
        var x0 = new X(a, t);
        float* y0 = y + (long)t * ys + r;
        Kernel1(w.Row(r), w.RowBytes, 4, w.Columns / 32, HalfTable.Table, x0.Q, x0.S, x0.Sum, y0, accumulate: false);
        if ((w.Columns / 32 & 1) == 1)
        {
            int last = w.Columns / 32 - 1;
            byte* wpad = stackalloc byte[8 * TFormat.BlockBytes];
            PadWeights(w.Row(r), w.RowBytes, 4, last, wpad);
            sbyte* q = stackalloc sbyte[64];
            float* s = stackalloc float[2];
            int* sum = stackalloc int[2];
            PadX(x0, last, q, s, sum);
            Kernel1(wpad, 2 * TFormat.BlockBytes, 4, 2, HalfTable.Table, q, s, sum, y0, accumulate: true);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile1x1(WeightMatrix w, int r, QuantizedActivations a, int t, float* y, int ys)
    {
        var x0 = new X(a, t);
        float* y0 = y + (long)t * ys + r;
        Kernel1(w.Row(r), w.RowBytes, 1, w.Columns / 32, HalfTable.Table, x0.Q, x0.S, x0.Sum, y0, accumulate: false);
        if ((w.Columns / 32 & 1) == 1)
        {
            int last = w.Columns / 32 - 1;
            byte* wpad = stackalloc byte[2 * TFormat.BlockBytes];
            PadWeights(w.Row(r), w.RowBytes, 1, last, wpad);
            sbyte* q = stackalloc sbyte[64];
            float* s = stackalloc float[2];
            int* sum = stackalloc int[2];
            PadX(x0, last, q, s, sum);
            Kernel1(wpad, 2 * TFormat.BlockBytes, 1, 2, HalfTable.Table, q, s, sum, y0, accumulate: true);
        }
    }

    // `rows` (1 or 4) rows x 1 token, one row at a time with the same per-pair steps as Kernel3
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel1(byte* w0, long rb, int rows, int blocks, float* table, sbyte* q0, float* s0, int* m0, float* y, bool accumulate)
    {
        int bb = TFormat.BlockBytes;
        for (int i = 0; i < rows; i++)
        {
            byte* wr = w0 + i * rb;
            Vector512<float> c = default;
            for (int b = 0; b + 1 < blocks; b += 2)
            {
                int o = b * bb;
                var x = Vector512.Load(q0 + b * 32);
                c = Step(c, TFormat.Magnitude(wr + o), TFormat.Negative(wr + o), TFormat.Scale(wr + o, table), x, Vector512<sbyte>.Zero - x, Dx(s0 + b), XSum(m0 + b));
            }
            float v = Vector512.Sum(c);
            y[i] = accumulate ? y[i] + v : v;
        }
    }
}
