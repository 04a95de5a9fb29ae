using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// Float dot-product micro-kernels over rows already in float form. Each (row, token) result is
/// always computed the same way, whatever the tile: one 16-lane (8 on AVX2) accumulator running
/// acc = fma(w[k..], x[k..], acc) over k in order, reduced by halving (lane i + lane i + half), then
/// the elements past the last full vector added one by one. That fixed recipe makes results
/// independent of batch composition.
/// </summary>
public static unsafe class FloatGemm
{
    /// <summary>The canonical result for one row and one token (used for tails and as the reference shape).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(float* w, float* x, int k)
    {
        if (Simd.Use512)
        {
            var acc = Vector512<float>.Zero;
            int i = 0;
            for (; i + 16 <= k; i += 16)
            {
                acc = Simd.Fma512(Vector512.Load(w + i), Vector512.Load(x + i), acc);
            }
            return Tail(Reduce(acc), w, x, i, k);
        }
        if (Simd.Use256)
        {
            var acc = Vector256<float>.Zero;
            int i = 0;
            for (; i + 8 <= k; i += 8)
            {
                acc = Simd.Fma256(Vector256.Load(w + i), Vector256.Load(x + i), acc);
            }
            return Tail(Reduce(acc), w, x, i, k);
        }
        return Tail(0f, w, x, 0, k);
    }

    /// <summary>Adds w[i..k) * x[i..k) one element at a time (the part of a dot past its last full vector).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tail(float s, float* w, float* x, int i, int k)
    {
        for (; i < k; i++)
        {
            s = MathF.FusedMultiplyAdd(w[i], x[i], s);
        }
        return s;
    }

    /// <summary>Halving reduction: lanes i and i+8, then i+4, i+2, i+1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Reduce(Vector512<float> v) => Reduce(v.GetLower() + v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Reduce(Vector256<float> v)
    {
        var a = v.GetLower() + v.GetUpper();
        var b = a + Vector128.Shuffle(a, Vector128.Create(2, 3, 0, 1));
        return b.ToScalar() + b.GetElement(1);
    }

    /// <summary>Rows r0..r3 (stride <paramref name="ws"/> floats) x tokens t0..t3 (stride <paramref name="xs"/>): out[t * 4 + r].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile4x4(float* w, long ws, float* x, long xs, int k, float* result)
    {
        if (!Simd.Use512 && Simd.Use256)
        {
            Tile4x2Avx2(w, ws, x, xs, k, result);
            Tile4x2Avx2(w, ws, x + 2 * xs, xs, k, result + 8);
            return;
        }
        if (!Simd.Use512)
        {
            for (int t = 0; t < 4; t++)
            {
                for (int r = 0; r < 4; r++)
                {
                    result[t * 4 + r] = Dot(w + r * ws, x + t * xs, k);
                }
            }
            return;
        }
        float* w0 = w, w1 = w + ws, w2 = w1 + ws, w3 = w2 + ws;
        float* x0 = x, x1 = x + xs, x2 = x1 + xs, x3 = x2 + xs;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            var a0 = Vector512.Load(w0 + i);
            var a1 = Vector512.Load(w1 + i);
            var a2 = Vector512.Load(w2 + i);
            var a3 = Vector512.Load(w3 + i);
            var b = Vector512.Load(x0 + i);
            c00 = Simd.Fma512(a0, b, c00); c10 = Simd.Fma512(a1, b, c10); c20 = Simd.Fma512(a2, b, c20); c30 = Simd.Fma512(a3, b, c30);
            b = Vector512.Load(x1 + i);
            c01 = Simd.Fma512(a0, b, c01); c11 = Simd.Fma512(a1, b, c11); c21 = Simd.Fma512(a2, b, c21); c31 = Simd.Fma512(a3, b, c31);
            b = Vector512.Load(x2 + i);
            c02 = Simd.Fma512(a0, b, c02); c12 = Simd.Fma512(a1, b, c12); c22 = Simd.Fma512(a2, b, c22); c32 = Simd.Fma512(a3, b, c32);
            b = Vector512.Load(x3 + i);
            c03 = Simd.Fma512(a0, b, c03); c13 = Simd.Fma512(a1, b, c13); c23 = Simd.Fma512(a2, b, c23); c33 = Simd.Fma512(a3, b, c33);
        }
        result[0] = Tail(Reduce(c00), w0, x0, i, k); result[1] = Tail(Reduce(c10), w1, x0, i, k);
        result[2] = Tail(Reduce(c20), w2, x0, i, k); result[3] = Tail(Reduce(c30), w3, x0, i, k);
        result[4] = Tail(Reduce(c01), w0, x1, i, k); result[5] = Tail(Reduce(c11), w1, x1, i, k);
        result[6] = Tail(Reduce(c21), w2, x1, i, k); result[7] = Tail(Reduce(c31), w3, x1, i, k);
        result[8] = Tail(Reduce(c02), w0, x2, i, k); result[9] = Tail(Reduce(c12), w1, x2, i, k);
        result[10] = Tail(Reduce(c22), w2, x2, i, k); result[11] = Tail(Reduce(c32), w3, x2, i, k);
        result[12] = Tail(Reduce(c03), w0, x3, i, k); result[13] = Tail(Reduce(c13), w1, x3, i, k);
        result[14] = Tail(Reduce(c23), w2, x3, i, k); result[15] = Tail(Reduce(c33), w3, x3, i, k);
    }

    // AVX2: rows r0..r3 x tokens t0, t1 (8 accumulators; 4 x 4 would need every ymm register): out[t * 4 + r]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x2Avx2(float* w, long ws, float* x, long xs, int k, float* result)
    {
        float* w0 = w, w1 = w + ws, w2 = w1 + ws, w3 = w2 + ws;
        float* x0 = x, x1 = x + xs;
        Vector256<float> c00 = default, c10 = default, c20 = default, c30 = default;
        Vector256<float> c01 = default, c11 = default, c21 = default, c31 = default;
        int i = 0;
        for (; i + 8 <= k; i += 8)
        {
            var a0 = Vector256.Load(w0 + i);
            var a1 = Vector256.Load(w1 + i);
            var a2 = Vector256.Load(w2 + i);
            var a3 = Vector256.Load(w3 + i);
            var b = Vector256.Load(x0 + i);
            c00 = Simd.Fma256(a0, b, c00); c10 = Simd.Fma256(a1, b, c10); c20 = Simd.Fma256(a2, b, c20); c30 = Simd.Fma256(a3, b, c30);
            b = Vector256.Load(x1 + i);
            c01 = Simd.Fma256(a0, b, c01); c11 = Simd.Fma256(a1, b, c11); c21 = Simd.Fma256(a2, b, c21); c31 = Simd.Fma256(a3, b, c31);
        }
        result[0] = Tail(Reduce(c00), w0, x0, i, k); result[1] = Tail(Reduce(c10), w1, x0, i, k);
        result[2] = Tail(Reduce(c20), w2, x0, i, k); result[3] = Tail(Reduce(c30), w3, x0, i, k);
        result[4] = Tail(Reduce(c01), w0, x1, i, k); result[5] = Tail(Reduce(c11), w1, x1, i, k);
        result[6] = Tail(Reduce(c21), w2, x1, i, k); result[7] = Tail(Reduce(c31), w3, x1, i, k);
    }

    /// <summary>Rows r0..r3 x one token: out[r].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile4x1(float* w, long ws, float* x, int k, float* result)
    {
        if (!Simd.Use512 && Simd.Use256)
        {
            Tile4x1Avx2(w, ws, x, k, result);
            return;
        }
        if (!Simd.Use512)
        {
            for (int r = 0; r < 4; r++)
            {
                result[r] = Dot(w + r * ws, x, k);
            }
            return;
        }
        float* w0 = w, w1 = w + ws, w2 = w1 + ws, w3 = w2 + ws;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            var b = Vector512.Load(x + i);
            c0 = Simd.Fma512(Vector512.Load(w0 + i), b, c0);
            c1 = Simd.Fma512(Vector512.Load(w1 + i), b, c1);
            c2 = Simd.Fma512(Vector512.Load(w2 + i), b, c2);
            c3 = Simd.Fma512(Vector512.Load(w3 + i), b, c3);
        }
        result[0] = Tail(Reduce(c0), w0, x, i, k);
        result[1] = Tail(Reduce(c1), w1, x, i, k);
        result[2] = Tail(Reduce(c2), w2, x, i, k);
        result[3] = Tail(Reduce(c3), w3, x, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1Avx2(float* w, long ws, float* x, int k, float* result)
    {
        float* w0 = w, w1 = w + ws, w2 = w1 + ws, w3 = w2 + ws;
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int i = 0;
        for (; i + 8 <= k; i += 8)
        {
            var b = Vector256.Load(x + i);
            c0 = Simd.Fma256(Vector256.Load(w0 + i), b, c0);
            c1 = Simd.Fma256(Vector256.Load(w1 + i), b, c1);
            c2 = Simd.Fma256(Vector256.Load(w2 + i), b, c2);
            c3 = Simd.Fma256(Vector256.Load(w3 + i), b, c3);
        }
        result[0] = Tail(Reduce(c0), w0, x, i, k);
        result[1] = Tail(Reduce(c1), w1, x, i, k);
        result[2] = Tail(Reduce(c2), w2, x, i, k);
        result[3] = Tail(Reduce(c3), w3, x, i, k);
    }
}
