using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// Expands a range of a weight row to floats, bit for bit what the Quantization codecs produce
/// (same products in the same order), with AVX-512 forms of each block type. The matmul kernels
/// multiply these floats, so every path computes from identical weights.
/// </summary>
public static unsafe class RowDequantizer
{
    /// <summary>Elements [k0, k0 + count) of <paramref name="row"/>; both multiples of <see cref="Granularity"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dequantize(GgmlType type, byte* row, int k0, int count, float* dst)
    {
        if (!Simd.Use512)
        {
            if (Simd.Use256 && Avx2Types(type, row, k0, count, dst))
            {
                return;
            }
            // the codecs also know types the kernels do not (Q8_K): refuse those as the AVX-512 path does
            _ = WeightKernels.For(type);
            long offset = GgmlTypeInfo.RowBytes(type, k0);
            Quantizer.Dequantize(type, new ReadOnlySpan<byte>(row + offset, checked((int)GgmlTypeInfo.RowBytes(type, count))), new Span<float>(dst, count));
            return;
        }
        switch (type)
        {
            case GgmlType.F32:
                Buffer.MemoryCopy(row + 4L * k0, dst, 4L * count, 4L * count);
                break;
            case GgmlType.F16:
                F16((ushort*)row + k0, dst, count);
                break;
            case GgmlType.BF16:
                BF16((ushort*)row + k0, dst, count);
                break;
            case GgmlType.Q8_0:
                for (int b = 0; b < count / 32; b++)
                {
                    Q8_0(row + (k0 / 32 + b) * 34, dst + b * 32);
                }
                break;
            case GgmlType.Q4_0:
                for (int b = 0; b < count / 32; b++)
                {
                    Q4_0(row + (k0 / 32 + b) * 18, dst + b * 32);
                }
                break;
            case GgmlType.Q4_K:
                for (int b = 0; b < count / 256; b++)
                {
                    Q4_K(row + (k0 / 256 + b) * 144, dst + b * 256);
                }
                break;
            case GgmlType.Q6_K:
                for (int b = 0; b < count / 256; b++)
                {
                    Q6_K(row + (k0 / 256 + b) * 210, dst + b * 256);
                }
                break;
            default:
                throw WeightKernels.Unsupported(type);
        }
    }

    /// <summary>Elements per block: ranges must start and end on multiples of it.</summary>
    public static int Granularity(GgmlType type) => Math.Max(16, WeightKernels.For(type).BlockElements);

    // the AVX2 forms: the float types and Q8_0 (the KV cache's); the other types have packed kernels on AVX2 and
    // expand through the codecs only when a matrix cannot be packed
    private static bool Avx2Types(GgmlType type, byte* row, int k0, int count, float* dst)
    {
        switch (type)
        {
            case GgmlType.F32:
                Buffer.MemoryCopy(row + 4L * k0, dst, 4L * count, 4L * count);
                return true;
            case GgmlType.F16:
                F16((ushort*)row + k0, dst, count);
                return true;
            case GgmlType.BF16:
                BF16((ushort*)row + k0, dst, count);
                return true;
            case GgmlType.Q8_0:
                for (int b = 0; b < count / 32; b++)
                {
                    Q8_0Avx2(row + (k0 / 32 + b) * 34, dst + b * 32);
                }
                return true;
            default:
                return false;
        }
    }

    // y = q * d, 8 at a time
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q8_0Avx2(byte* b, float* y)
    {
        var d = Vector256.Create(HalfTable.ToFloat(b));
        for (int i = 0; i < 32; i += 8)
        {
            (Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32((sbyte*)(b + 2 + i))) * d).Store(y + i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void F16(ushort* src, float* dst, int count)
    {
        int i = 0;
        if (Simd.Use512)
        {
            for (; i + 16 <= count; i += 16)
            {
                HalfVectors.ToFloat(Vector256.Load(src + i)).Store(dst + i);
            }
        }
        for (; i + 8 <= count; i += 8)
        {
            HalfVectors.ToFloat(Vector128.Load(src + i)).Store(dst + i);
        }
        for (; i < count; i++)
        {
            dst[i] = Fp16.ToFloat(src[i]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BF16(ushort* src, float* dst, int count)
    {
        int i = 0;
        if (Simd.Use512)
        {
            for (; i + 16 <= count; i += 16)
            {
                HalfVectors.BF16ToFloat(Vector256.Load(src + i)).Store(dst + i);
            }
        }
        for (; i + 8 <= count; i += 8)
        {
            HalfVectors.BF16ToFloat(Vector128.Load(src + i)).Store(dst + i);
        }
        for (; i < count; i++)
        {
            dst[i] = BFloat16.ToFloat(src[i]);
        }
    }

    // y = q * d
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q8_0(byte* b, float* y)
    {
        var d = Vector512.Create(HalfTable.ToFloat(b));
        (Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)(b + 2)))) * d).Store(y);
        (Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)(b + 18)))) * d).Store(y + 16);
    }

    // y[j] = (lo(q[j]) - 8) * d, y[j + 16] = (hi(q[j]) - 8) * d
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4_0(byte* b, float* y)
    {
        var d = Vector512.Create(HalfTable.ToFloat(b));
        var w = Avx512F.ConvertToVector512Int32(Vector128.Load(b + 2));
        var eight = Vector512.Create(8);
        (Avx512F.ConvertToVector512Single((w & Vector512.Create(15)) - eight) * d).Store(y);
        (Avx512F.ConvertToVector512Single((w >>> 4) - eight) * d).Store(y + 16);
    }

    // sub-block s: y = (d * sc[s]) * q - dmin * m[s]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_K(byte* b, float* y)
    {
        byte* sc = stackalloc byte[8];
        byte* mn = stackalloc byte[8];
        ScalesQ4K(b + 4, sc, mn);
        float d = HalfTable.ToFloat(b);
        float min = HalfTable.ToFloat(b + 2);
        var mask = Vector512.Create(15);
        for (int g = 0; g < 4; g++)
        {
            var d1 = Vector512.Create(d * sc[2 * g]);
            var m1 = Vector512.Create(min * mn[2 * g]);
            var d2 = Vector512.Create(d * sc[2 * g + 1]);
            var m2 = Vector512.Create(min * mn[2 * g + 1]);
            for (int h = 0; h < 2; h++)
            {
                var w = Avx512F.ConvertToVector512Int32(Vector128.Load(b + 16 + g * 32 + h * 16));
                (d1 * Avx512F.ConvertToVector512Single(w & mask) - m1).Store(y + g * 64 + h * 16);
                (d2 * Avx512F.ConvertToVector512Single(w >>> 4) - m2).Store(y + g * 64 + 32 + h * 16);
            }
        }
    }

    /// <summary>Q4_K's twelve scale bytes as eight 6-bit scales and eight 6-bit mins (layout in KQuantScales).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScalesQ4K(byte* s, byte* scales, byte* mins)
    {
        for (int j = 0; j < 4; j++)
        {
            scales[j] = (byte)(s[j] & 63);
            mins[j] = (byte)(s[j + 4] & 63);
            scales[j + 4] = (byte)((s[j + 8] & 0xF) | ((s[j] >> 6) << 4));
            mins[j + 4] = (byte)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
        }
    }

    // half n, 16-group l2: q1..q4 at offsets 0, 32, 64, 96; y = (d * sc) * (q - 32)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q6_K(byte* b, float* y)
    {
        var sc = (sbyte*)(b + 192);
        float d = HalfTable.ToFloat(b + 208);
        var m4 = Vector512.Create(15);
        var m2 = Vector512.Create(3);
        var k32 = Vector512.Create(32);
        for (int n = 0; n < 2; n++)
        {
            for (int l2 = 0; l2 < 32; l2 += 16)
            {
                var ql0 = Avx512F.ConvertToVector512Int32(Vector128.Load(b + n * 64 + l2));
                var ql1 = Avx512F.ConvertToVector512Int32(Vector128.Load(b + n * 64 + 32 + l2));
                var qh = Avx512F.ConvertToVector512Int32(Vector128.Load(b + 128 + n * 32 + l2));
                int s = n * 8 + l2 / 16;
                float* o = y + n * 128 + l2;
                (Vector512.Create(d * sc[s]) * Avx512F.ConvertToVector512Single(((ql0 & m4) | ((qh & m2) << 4)) - k32)).Store(o);
                (Vector512.Create(d * sc[s + 2]) * Avx512F.ConvertToVector512Single(((ql1 & m4) | (((qh >>> 2) & m2) << 4)) - k32)).Store(o + 32);
                (Vector512.Create(d * sc[s + 4]) * Avx512F.ConvertToVector512Single(((ql0 >>> 4) | (((qh >>> 4) & m2) << 4)) - k32)).Store(o + 64);
                (Vector512.Create(d * sc[s + 6]) * Avx512F.ConvertToVector512Single(((ql1 >>> 4) | (((qh >>> 6) & m2) << 4)) - k32)).Store(o + 96);
            }
        }
    }
}
