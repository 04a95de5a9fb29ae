using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// Single-token (decode) matmul for four weight rows at once, expanding each 16 weights in registers
/// and multiplying at once, so weights stream from memory with no scratch traffic. The weights take
/// exactly the float values <see cref="RowDequantizer"/> gives them and every row follows
/// <see cref="FloatGemm"/>'s recipe, so results equal the batched path bit for bit. AVX-512 (16 values a
/// step) or AVX2 (8, the AVX2 recipe's accumulator width); without them rows expand through scratch.
/// </summary>
internal static unsafe class DecodeKernels
{
    /// <summary>True when <paramref name="type"/> has a fused kernel for rows of <paramref name="k"/> values.</summary>
    public static bool Supports(GgmlType type, int k) => (Simd.Use512 ? k % 16 == 0 : Simd.Use256 && k % 8 == 0) && type switch
    {
        GgmlType.BF16 or GgmlType.F32 => true,
        _ => false,
    };

    /// <summary>y[i] = row(r + i) . x for i in 0..3, rows <paramref name="rb"/> bytes apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Quad(GgmlType type, byte* w, long rb, float* x, int k, float* y)
    {
        if (!Simd.Use512)
        {
            Avx2(type == GgmlType.BF16, w, rb, x, k, y);
            return;
        }
        switch (type)
        {
            case GgmlType.BF16: BF16(w, rb, x, k, y); break;
            default: F32(w, rb, x, k, y); break;
        }
    }

    // Decode streams weights once. Hardware prefetchers alone left one thread at ~9 GB/s (four
    // interleaved row streams, each cache line carrying enough work to fill the out-of-order window).
    // Prefetching 16 KiB further on in all four streams fixes that, but into L2 (prefetcht1), not L1:
    // a prefetcht0 holds one of the core's few L1 miss buffers for the whole trip to DRAM, which capped
    // one thread at ~12 GB/s on a Zen 4 (EPYC) host; prefetcht1 measured 23 GB/s there (F16, 266 MB matrix).
    private const int PrefetchDistance = 16384;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Prefetch(byte* p, long rb)
    {
        Sse.Prefetch1(p + PrefetchDistance);
        Sse.Prefetch1(p + rb + PrefetchDistance);
        Sse.Prefetch1(p + 2 * rb + PrefetchDistance);
        Sse.Prefetch1(p + 3 * rb + PrefetchDistance);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Store(float* y, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        y[0] = FloatGemm.Reduce(a);
        y[1] = FloatGemm.Reduce(b);
        y[2] = FloatGemm.Reduce(c);
        y[3] = FloatGemm.Reduce(d);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BF16(byte* w, long rb, float* x, int k, float* y)
    {
        ushort* w0 = (ushort*)w, w1 = (ushort*)(w + rb), w2 = (ushort*)(w + 2 * rb), w3 = (ushort*)(w + 3 * rb);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int i = 0; i < k; i += 16)
        {
            if ((i & 31) == 0)
            {
                Prefetch((byte*)(w0 + i), rb);
            }
            var xv = Vector512.Load(x + i);
            c0 = Simd.Fma512(HalfVectors.BF16ToFloat(Vector256.Load(w0 + i)), xv, c0);
            c1 = Simd.Fma512(HalfVectors.BF16ToFloat(Vector256.Load(w1 + i)), xv, c1);
            c2 = Simd.Fma512(HalfVectors.BF16ToFloat(Vector256.Load(w2 + i)), xv, c2);
            c3 = Simd.Fma512(HalfVectors.BF16ToFloat(Vector256.Load(w3 + i)), xv, c3);
        }
        Store(y, c0, c1, c2, c3);
    }

    // BF16 or F32 rows, 8 values a step into one accumulator per row (FloatGemm.Dot's AVX2 recipe)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx2(bool bf16, byte* w, long rb, float* x, int k, float* y)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int size = bf16 ? 2 : 4;
        for (int i = 0; i < k; i += 8)
        {
            if (((i * size) & 63) == 0)
            {
                Prefetch(w + (long)i * size, rb);
            }
            var xv = Vector256.Load(x + i);
            c0 = Simd.Fma256(Row(w, i, bf16), xv, c0);
            c1 = Simd.Fma256(Row(w + rb, i, bf16), xv, c1);
            c2 = Simd.Fma256(Row(w + 2 * rb, i, bf16), xv, c2);
            c3 = Simd.Fma256(Row(w + 3 * rb, i, bf16), xv, c3);
        }
        y[0] = FloatGemm.Reduce(c0);
        y[1] = FloatGemm.Reduce(c1);
        y[2] = FloatGemm.Reduce(c2);
        y[3] = FloatGemm.Reduce(c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Row(byte* row, int i, bool bf16) =>
        bf16 ? HalfVectors.BF16ToFloat(Vector128.Load((ushort*)row + i)) : Vector256.Load((float*)row + i);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void F32(byte* w, long rb, float* x, int k, float* y)
    {
        float* w0 = (float*)w, w1 = (float*)(w + rb), w2 = (float*)(w + 2 * rb), w3 = (float*)(w + 3 * rb);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int i = 0; i < k; i += 16)
        {
            Prefetch((byte*)(w0 + i), rb);
            var xv = Vector512.Load(x + i);
            c0 = Simd.Fma512(Vector512.Load(w0 + i), xv, c0);
            c1 = Simd.Fma512(Vector512.Load(w1 + i), xv, c1);
            c2 = Simd.Fma512(Vector512.Load(w2 + i), xv, c2);
            c3 = Simd.Fma512(Vector512.Load(w3 + i), xv, c3);
        }
        Store(y, c0, c1, c2, c3);
    }
}
