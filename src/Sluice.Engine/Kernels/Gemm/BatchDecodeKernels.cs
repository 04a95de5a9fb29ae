using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// Matmul for a few tokens at once (batched decode): four weight rows times four tokens, expanding each
/// 16 weights in registers once and multiplying them into all four tokens, so the expansion is paid once
/// per four tokens and nothing goes through scratch. Weights take the float values
/// <see cref="RowDequantizer"/> gives them and every (row, token) result is one FMA chain over K in
/// order, as in <see cref="FloatGemm"/>, so results equal the single-token and prompt paths bit for bit.
/// AVX-512 only; F16 weights (Q4_0 and Q8_0 take integer kernels, <see cref="PackedGroups"/>).
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
    /// y[t * yStride + i] = row(i) . x[t] for rows i in 0..3 (<paramref name="rb"/> bytes apart) and
    /// tokens t in 0..3 (x rows <paramref name="k"/> floats apart), for a type <see cref="Supports"/> accepts.
    /// </summary>
    public static void Tile(byte* w, long rb, float* x, int k, float* y, int yStride) => Tile<F16Chunks>(w, rb, x, k, y, yStride);

    /// <summary>16 weights of a row as floats, starting at element i (a multiple of 16); one per weight type.</summary>
    private interface IChunks
    {
        static abstract Vector512<float> Load(byte* row, int i, float* halves);

        /// <summary>Byte offset of element i (a multiple of <see cref="PrefetchEvery"/>) in a row.</summary>
        static abstract int Offset(int i);

        /// <summary>Elements per 64 bytes of a row, rounded down to a power of two.</summary>
        static abstract int PrefetchEvery { get; }
    }

    private readonly struct F16Chunks : IChunks
    {
        public static int Offset(int i) => i * 2;

        public static int PrefetchEvery => 32;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(byte* row, int i, float* halves) => HalfVectors.ToFloat(Vector256.Load((ushort*)row + i));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<T>(byte* w0, long rb, float* x, int k, float* y, int yStride) where T : IChunks
    {
        byte* w1 = w0 + rb, w2 = w1 + rb, w3 = w2 + rb;
        float* x1 = x + k, x2 = x1 + k, x3 = x2 + k;
        float* t = HalfTable.Table; // a local: a static access inside the loop is a helper call, which spills every accumulator
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        // one prefetch per row per 64 bytes or so, as DecodeKernels does
        int step = T.PrefetchEvery;
        for (int i = 0; i < k; i += 16)
        {
            if ((i & (step - 1)) == 0)
            {
                DecodeKernels.Prefetch(w0 + T.Offset(i), rb);
            }
            var a0 = Vector512.Load(x + i);
            var a1 = Vector512.Load(x1 + i);
            var a2 = Vector512.Load(x2 + i);
            var a3 = Vector512.Load(x3 + i);
            var v = T.Load(w0, i, t);
            c00 = Simd.Fma512(v, a0, c00); c01 = Simd.Fma512(v, a1, c01); c02 = Simd.Fma512(v, a2, c02); c03 = Simd.Fma512(v, a3, c03);
            v = T.Load(w1, i, t);
            c10 = Simd.Fma512(v, a0, c10); c11 = Simd.Fma512(v, a1, c11); c12 = Simd.Fma512(v, a2, c12); c13 = Simd.Fma512(v, a3, c13);
            v = T.Load(w2, i, t);
            c20 = Simd.Fma512(v, a0, c20); c21 = Simd.Fma512(v, a1, c21); c22 = Simd.Fma512(v, a2, c22); c23 = Simd.Fma512(v, a3, c23);
            v = T.Load(w3, i, t);
            c30 = Simd.Fma512(v, a0, c30); c31 = Simd.Fma512(v, a1, c31); c32 = Simd.Fma512(v, a2, c32); c33 = Simd.Fma512(v, a3, c33);
        }
        Column(y, c00, c10, c20, c30);
        Column(y + yStride, c01, c11, c21, c31);
        Column(y + 2 * yStride, c02, c12, c22, c32);
        Column(y + 3 * yStride, c03, c13, c23, c33);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Column(float* y, Vector512<float> r0, Vector512<float> r1, Vector512<float> r2, Vector512<float> r3)
    {
        y[0] = FloatGemm.Reduce(r0);
        y[1] = FloatGemm.Reduce(r1);
        y[2] = FloatGemm.Reduce(r2);
        y[3] = FloatGemm.Reduce(r3);
    }
}
