using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels.Tiles;

/// <summary>
/// Tiles for K-quant weights (Q4_K, Q6_K) x Q8_K activations, 2 rows x 4 tokens (a row's decoded block
/// takes 8 registers). Per pair and block: the four chunks' madd(maddubs(q, x), scales) add up exactly
/// in int32, then acc = fma(float(sum), d * dx, acc); the offsets come off at the end as one float dot
/// of the row's per-16 correction weights with the token's scaled 16-value sums.
/// </summary>
internal sealed unsafe class SuperBlockTiles<TFormat> : IQuantTileKernel where TFormat : struct, ISuperBlockFormat
{
    public static int TileRows => 2;

    public static int TileTokens => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Step(Vector512<float> acc, sbyte* x, float dx,
        Vector512<byte> q0, Vector512<byte> q1, Vector512<byte> q2, Vector512<byte> q3,
        Vector512<short> s0, Vector512<short> s1, Vector512<short> s2, Vector512<short> s3, float d)
    {
        var i = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q0, Vector512.Load(x)), s0);
        i += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q1, Vector512.Load(x + 64)), s1);
        i += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q2, Vector512.Load(x + 128)), s2);
        i += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q3, Vector512.Load(x + 192)), s3);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i), Vector512.Create(d * dx), acc);
    }

    /// <summary>The row's correction weights, (columns / 16) floats.</summary>
    private static void Corrections(WeightMatrix w, int r, float* c)
    {
        byte* p = w.Row(r);
        int blocks = w.Columns / 256;
        for (int b = 0; b < blocks; b++)
        {
            TFormat.Corrections(p + b * TFormat.BlockBytes, c + b * 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish(Vector512<float> acc, float* c, QuantizedActivations a, int t, int n16) =>
        Vector512.Sum(acc) - FloatDot.F32(c, a.ScaledSums(t), n16);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileFull(WeightMatrix w, int r, QuantizedActivations a, int t, float* y, int ys)
    {
        int n16 = w.Columns / 16;
        float* c0 = stackalloc float[n16];
        float* c1 = stackalloc float[n16];
        Corrections(w, r, c0);
        Corrections(w, r + 1, c1);
        byte* w0 = w.Row(r), w1 = w.Row(r + 1);
        sbyte* x0 = a.Qs(t), x1 = a.Qs(t + 1), x2 = a.Qs(t + 2), x3 = a.Qs(t + 3);
        float* e0 = a.Scales(t), e1 = a.Scales(t + 1), e2 = a.Scales(t + 2), e3 = a.Scales(t + 3);
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        int blocks = w.Columns / 256;
        for (int b = 0; b < blocks; b++)
        {
            int o = b * TFormat.BlockBytes, xo = b * 256;
            TFormat.Load(w0 + o, out var p0, out var p1, out var p2, out var p3, out var s0, out var s1, out var s2, out var s3, out float d0);
            a00 = Step(a00, x0 + xo, e0[b], p0, p1, p2, p3, s0, s1, s2, s3, d0);
            a01 = Step(a01, x1 + xo, e1[b], p0, p1, p2, p3, s0, s1, s2, s3, d0);
            a02 = Step(a02, x2 + xo, e2[b], p0, p1, p2, p3, s0, s1, s2, s3, d0);
            a03 = Step(a03, x3 + xo, e3[b], p0, p1, p2, p3, s0, s1, s2, s3, d0);
            TFormat.Load(w1 + o, out p0, out p1, out p2, out p3, out s0, out s1, out s2, out s3, out float d1);
            a10 = Step(a10, x0 + xo, e0[b], p0, p1, p2, p3, s0, s1, s2, s3, d1);
            a11 = Step(a11, x1 + xo, e1[b], p0, p1, p2, p3, s0, s1, s2, s3, d1);
            a12 = Step(a12, x2 + xo, e2[b], p0, p1, p2, p3, s0, s1, s2, s3, d1);
            a13 = Step(a13, x3 + xo, e3[b], p0, p1, p2, p3, s0, s1, s2, s3, d1);
        }
        float* y0 = y + (long)t * ys + r;
        y0[0] = Finish(a00, c0, a, t, n16); y0[1] = Finish(a10, c1, a, t, n16);
        y0 += ys;
        y0[0] = Finish(a01, c0, a, t + 1, n16); y0[1] = Finish(a11, c1, a, t + 1, n16);
        y0 += ys;
        y0[0] = Finish(a02, c0, a, t + 2, n16); y0[1] = Finish(a12, c1, a, t + 2, n16);
        y0 += ys;
        y0[0] = Finish(a03, c0, a, t + 3, n16); y0[1] = Finish(a13, c1, a, t + 3, n16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileRowsX1(WeightMatrix w, int r, QuantizedActivations a, int t, float* y, int ys)
    {
        int n16 = w.Columns / 16;
        float* c0 = stackalloc float[n16];
        float* c1 = stackalloc float[n16];
        Corrections(w, r, c0);
        Corrections(w, r + 1, c1);
        byte* w0 = w.Row(r), w1 = w.Row(r + 1);
        sbyte* x0 = a.Qs(t);
        float* e0 = a.Scales(t);
        Vector512<float> a00 = default, a10 = default;
        int blocks = w.Columns / 256;
        for (int b = 0; b < blocks; b++)
        {
            int o = b * TFormat.BlockBytes, xo = b * 256;
            TFormat.Load(w0 + o, out var p0, out var p1, out var p2, out var p3, out var s0, out var s1, out var s2, out var s3, out float d0);
            a00 = Step(a00, x0 + xo, e0[b], p0, p1, p2, p3, s0, s1, s2, s3, d0);
            TFormat.Load(w1 + o, out p0, out p1, out p2, out p3, out s0, out s1, out s2, out s3, out float d1);
            a10 = Step(a10, x0 + xo, e0[b], p0, p1, p2, p3, s0, s1, s2, s3, d1);
        }
        float* y0 = y + (long)t * ys + r;
        y0[0] = Finish(a00, c0, a, t, n16);
        y0[1] = Finish(a10, c1, a, t, n16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile1x1(WeightMatrix w, int r, QuantizedActivations a, int t, float* y, int ys)
    {
        int n16 = w.Columns / 16;
        float* c0 = stackalloc float[n16];
        Corrections(w, r, c0);
        byte* w0 = w.Row(r);
        sbyte* x0 = a.Qs(t);
        float* e0 = a.Scales(t);
        Vector512<float> a00 = default;
        int blocks = w.Columns / 256;
        for (int b = 0; b < blocks; b++)
        {
            TFormat.Load(w0 + b * TFormat.BlockBytes, out var p0, out var p1, out var p2, out var p3, out var s0, out var s1, out var s2, out var s3, out float d0);
            a00 = Step(a00, x0 + b * 256, e0[b], p0, p1, p2, p3, s0, s1, s2, s3, d0);
        }
        y[(long)t * ys + r] = Finish(a00, c0, a, t, n16);
    }
}
