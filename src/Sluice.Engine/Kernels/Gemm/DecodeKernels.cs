using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// Single-token (decode) matmul for four weight rows at once, expanding each 16 weights in registers
/// and multiplying at once, so weights stream from memory with no scratch traffic. The weights take
/// exactly the float values <see cref="RowDequantizer"/> gives them and every row follows
/// <see cref="FloatGemm"/>'s recipe, so results equal the batched path bit for bit. AVX-512 only;
/// other paths expand rows through scratch.
/// </summary>
internal static unsafe class DecodeKernels
{
    /// <summary>True when <paramref name="type"/> has a fused kernel for rows of <paramref name="k"/> values.</summary>
    public static bool Supports(GgmlType type, int k) => Simd.Use512 && k % 16 == 0 && type switch
    {
        GgmlType.Q8_0 or GgmlType.Q4_0 => k % 32 == 0,
        GgmlType.Q4_K or GgmlType.Q6_K => k % 256 == 0,
        GgmlType.F16 or GgmlType.BF16 or GgmlType.F32 => true,
        _ => false,
    };

    /// <summary>y[i] = row(r + i) . x for i in 0..3, rows <paramref name="rb"/> bytes apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Quad(GgmlType type, byte* w, long rb, float* x, int k, float* y)
    {
        switch (type)
        {
            case GgmlType.Q8_0: Q8_0(w, rb, x, k, y); break;
            case GgmlType.Q4_0: Q4_0(w, rb, x, k, y); break;
            case GgmlType.Q4_K: Q4_K(w, rb, x, k, y); break;
            case GgmlType.Q6_K: Q6_K(w, rb, x, k, y); break;
            case GgmlType.F16: F16(w, rb, x, k, y); break;
            case GgmlType.BF16: BF16(w, rb, x, k, y); break;
            default: F32(w, rb, x, k, y); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        y[0] = FloatGemm.Reduce(a);
        y[1] = FloatGemm.Reduce(b);
        y[2] = FloatGemm.Reduce(c);
        y[3] = FloatGemm.Reduce(d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> I8(byte* p) => Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)p)));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q8_0(byte* w0, long rb, float* x, int k, float* y)
    {
        byte* w1 = w0 + rb, w2 = w1 + rb, w3 = w2 + rb;
        float* t = HalfTable.Table;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int b = 0; b < k / 32; b++)
        {
            int o = b * 34;
            var d0 = Vector512.Create(t[*(ushort*)(w0 + o)]);
            var d1 = Vector512.Create(t[*(ushort*)(w1 + o)]);
            var d2 = Vector512.Create(t[*(ushort*)(w2 + o)]);
            var d3 = Vector512.Create(t[*(ushort*)(w3 + o)]);
            var xa = Vector512.Load(x + b * 32);
            var xb = Vector512.Load(x + b * 32 + 16);
            c0 = Simd.Fma512(I8(w0 + o + 2) * d0, xa, c0);
            c1 = Simd.Fma512(I8(w1 + o + 2) * d1, xa, c1);
            c2 = Simd.Fma512(I8(w2 + o + 2) * d2, xa, c2);
            c3 = Simd.Fma512(I8(w3 + o + 2) * d3, xa, c3);
            c0 = Simd.Fma512(I8(w0 + o + 18) * d0, xb, c0);
            c1 = Simd.Fma512(I8(w1 + o + 18) * d1, xb, c1);
            c2 = Simd.Fma512(I8(w2 + o + 18) * d2, xb, c2);
            c3 = Simd.Fma512(I8(w3 + o + 18) * d3, xb, c3);
        }
        Store(y, c0, c1, c2, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> U8(byte* p) => Avx512F.ConvertToVector512Int32(Vector128.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Lo4(Vector512<int> q, Vector512<float> d) =>
        Avx512F.ConvertToVector512Single((q & Vector512.Create(15)) - Vector512.Create(8)) * d;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Hi4(Vector512<int> q, Vector512<float> d) =>
        Avx512F.ConvertToVector512Single((q >>> 4) - Vector512.Create(8)) * d;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_0(byte* w0, long rb, float* x, int k, float* y)
    {
        byte* w1 = w0 + rb, w2 = w1 + rb, w3 = w2 + rb;
        float* t = HalfTable.Table;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int b = 0; b < k / 32; b++)
        {
            int o = b * 18;
            var d0 = Vector512.Create(t[*(ushort*)(w0 + o)]);
            var d1 = Vector512.Create(t[*(ushort*)(w1 + o)]);
            var d2 = Vector512.Create(t[*(ushort*)(w2 + o)]);
            var d3 = Vector512.Create(t[*(ushort*)(w3 + o)]);
            var q0 = U8(w0 + o + 2);
            var q1 = U8(w1 + o + 2);
            var q2 = U8(w2 + o + 2);
            var q3 = U8(w3 + o + 2);
            var xa = Vector512.Load(x + b * 32);
            var xb = Vector512.Load(x + b * 32 + 16);
            c0 = Simd.Fma512(Lo4(q0, d0), xa, c0);
            c1 = Simd.Fma512(Lo4(q1, d1), xa, c1);
            c2 = Simd.Fma512(Lo4(q2, d2), xa, c2);
            c3 = Simd.Fma512(Lo4(q3, d3), xa, c3);
            c0 = Simd.Fma512(Hi4(q0, d0), xb, c0);
            c1 = Simd.Fma512(Hi4(q1, d1), xb, c1);
            c2 = Simd.Fma512(Hi4(q2, d2), xb, c2);
            c3 = Simd.Fma512(Hi4(q3, d3), xb, c3);
        }
        Store(y, c0, c1, c2, c3);
    }

    // K-quants: one row at a time per superblock would lose the 4-row interleave; instead each row's
    // superblock is expanded into a 1 KiB L1 buffer (scales decoded once) and the four rows' FMAs run together.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_K(byte* w0, long rb, float* x, int k, float* y) => SuperBlocks(GgmlType.Q4_K, 144, w0, rb, x, k, y);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q6_K(byte* w0, long rb, float* x, int k, float* y) => SuperBlocks(GgmlType.Q6_K, 210, w0, rb, x, k, y);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SuperBlocks(GgmlType type, int blockBytes, byte* w0, long rb, float* x, int k, float* y)
    {
        byte* raw = stackalloc byte[4 * 256 * sizeof(float) + 64];
        float* buf = (float*)(((nint)raw + 63) & ~(nint)63);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int b = 0; b < k / 256; b++)
        {
            long o = (long)b * blockBytes;
            RowDequantizer.Dequantize(type, w0 + o, 0, 256, buf);
            RowDequantizer.Dequantize(type, w0 + rb + o, 0, 256, buf + 256);
            RowDequantizer.Dequantize(type, w0 + 2 * rb + o, 0, 256, buf + 512);
            RowDequantizer.Dequantize(type, w0 + 3 * rb + o, 0, 256, buf + 768);
            float* xb = x + b * 256;
            for (int j = 0; j < 256; j += 16)
            {
                var xv = Vector512.Load(xb + j);
                c0 = Simd.Fma512(Vector512.Load(buf + j), xv, c0);
                c1 = Simd.Fma512(Vector512.Load(buf + 256 + j), xv, c1);
                c2 = Simd.Fma512(Vector512.Load(buf + 512 + j), xv, c2);
                c3 = Simd.Fma512(Vector512.Load(buf + 768 + j), xv, c3);
            }
        }
        Store(y, c0, c1, c2, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void F16(byte* w, long rb, float* x, int k, float* y)
    {
        ushort* w0 = (ushort*)w, w1 = (ushort*)(w + rb), w2 = (ushort*)(w + 2 * rb), w3 = (ushort*)(w + 3 * rb);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int i = 0; i < k; i += 16)
        {
            var xv = Vector512.Load(x + i);
            c0 = Simd.Fma512(HalfVectors.ToFloat(Vector256.Load(w0 + i)), xv, c0);
            c1 = Simd.Fma512(HalfVectors.ToFloat(Vector256.Load(w1 + i)), xv, c1);
            c2 = Simd.Fma512(HalfVectors.ToFloat(Vector256.Load(w2 + i)), xv, c2);
            c3 = Simd.Fma512(HalfVectors.ToFloat(Vector256.Load(w3 + i)), xv, c3);
        }
        Store(y, c0, c1, c2, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BF16(byte* w, long rb, float* x, int k, float* y)
    {
        ushort* w0 = (ushort*)w, w1 = (ushort*)(w + rb), w2 = (ushort*)(w + 2 * rb), w3 = (ushort*)(w + 3 * rb);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int i = 0; i < k; i += 16)
        {
            var xv = Vector512.Load(x + i);
            c0 = Simd.Fma512(HalfVectors.BF16ToFloat(Vector256.Load(w0 + i)), xv, c0);
            c1 = Simd.Fma512(HalfVectors.BF16ToFloat(Vector256.Load(w1 + i)), xv, c1);
            c2 = Simd.Fma512(HalfVectors.BF16ToFloat(Vector256.Load(w2 + i)), xv, c2);
            c3 = Simd.Fma512(HalfVectors.BF16ToFloat(Vector256.Load(w3 + i)), xv, c3);
        }
        Store(y, c0, c1, c2, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void F32(byte* w, long rb, float* x, int k, float* y)
    {
        float* w0 = (float*)w, w1 = (float*)(w + rb), w2 = (float*)(w + 2 * rb), w3 = (float*)(w + 3 * rb);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int i = 0; i < k; i += 16)
        {
            var xv = Vector512.Load(x + i);
            c0 = Simd.Fma512(Vector512.Load(w0 + i), xv, c0);
            c1 = Simd.Fma512(Vector512.Load(w1 + i), xv, c1);
            c2 = Simd.Fma512(Vector512.Load(w2 + i), xv, c2);
            c3 = Simd.Fma512(Vector512.Load(w3 + i), xv, c3);
        }
        Store(y, c0, c1, c2, c3);
    }
}
