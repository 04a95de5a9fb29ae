using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// Matmul for a few tokens at once (batched decode): four F16 weight rows times four tokens, widening each
/// 16 weights in registers once and multiplying them into all four tokens, so the expansion is paid once
/// per four tokens and nothing goes through scratch. Weights take the float values
/// <see cref="RowDequantizer"/> gives them and every (row, token) result is one FMA chain over K in
/// order, as in <see cref="FloatGemm"/>, so results equal the single-token and prompt paths bit for bit.
/// AVX-512 only; F16 weights (quantized types take integer kernels, <see cref="PackedGroups"/>).
/// </summary>
internal static unsafe class BatchDecodeKernels
{
    /// <summary>
    /// True when <paramref name="type"/> has a kernel here for rows of <paramref name="k"/> values and
    /// it beats expanding rows to scratch and tiling at <paramref name="tokens"/> tokens. Measured on a
    /// 19456 x 896 matrix, 2 threads, weights per second against the scratch path: F16 2.0x / 1.3x / 0.8x
    /// at 4 / 8 / 16 tokens.
    /// </summary>
    public static bool Supports(GgmlType type, int k, int tokens) => Simd.Use512 && tokens >= 2 && type switch
    {
        GgmlType.F16 => k % 16 == 0 && tokens <= 8,
        _ => false,
    };

    /// <summary>
    /// y[t * yStride + i] = row(i) . x[t] for F16 rows i in 0..3 (<paramref name="rb"/> bytes apart) and
    /// tokens t in 0..3 (x rows <paramref name="k"/> floats apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(byte* w0, long rb, float* x, int k, float* y, int yStride)
    {
        byte* w1 = w0 + rb, w2 = w1 + rb, w3 = w2 + rb;
        float* x1 = x + k, x2 = x1 + k, x3 = x2 + k;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        for (int i = 0; i < k; i += 16)
        {
            // one prefetch per row per 64 bytes (32 halves), as DecodeKernels does
            if ((i & 31) == 0)
            {
                DecodeKernels.Prefetch(w0 + 2 * i, rb);
            }
            var a0 = Vector512.Load(x + i);
            var a1 = Vector512.Load(x1 + i);
            var a2 = Vector512.Load(x2 + i);
            var a3 = Vector512.Load(x3 + i);
            var v = Halves(w0, i);
            c00 = Simd.Fma512(v, a0, c00); c01 = Simd.Fma512(v, a1, c01); c02 = Simd.Fma512(v, a2, c02); c03 = Simd.Fma512(v, a3, c03);
            v = Halves(w1, i);
            c10 = Simd.Fma512(v, a0, c10); c11 = Simd.Fma512(v, a1, c11); c12 = Simd.Fma512(v, a2, c12); c13 = Simd.Fma512(v, a3, c13);
            v = Halves(w2, i);
            c20 = Simd.Fma512(v, a0, c20); c21 = Simd.Fma512(v, a1, c21); c22 = Simd.Fma512(v, a2, c22); c23 = Simd.Fma512(v, a3, c23);
            v = Halves(w3, i);
            c30 = Simd.Fma512(v, a0, c30); c31 = Simd.Fma512(v, a1, c31); c32 = Simd.Fma512(v, a2, c32); c33 = Simd.Fma512(v, a3, c33);
        }
        DecodeKernels.Store(y, c00, c10, c20, c30);
        DecodeKernels.Store(y + yStride, c01, c11, c21, c31);
        DecodeKernels.Store(y + 2 * yStride, c02, c12, c22, c32);
        DecodeKernels.Store(y + 3 * yStride, c03, c13, c23, c33);
    }

    // 16 halves of a row from element i, as floats
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Halves(byte* row, int i) => HalfVectors.ToFloat(Vector256.Load((ushort*)row + i));
}
