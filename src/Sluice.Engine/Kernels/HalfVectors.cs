using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Vector half and bfloat16 widening (scalar conversions are in Quantization's Fp16 and BFloat16).
/// .NET exposes no F16C instructions, so these widen the 16-bit patterns and rebuild floats with
/// integer ops and one multiply by 2^112 (which also turns half subnormals into the right values).
/// </summary>
public static unsafe class HalfVectors
{
    internal const float Two112 = 5.192296858534828e33f; // 2^112

    /// <summary>f rounded to the nearest half value (ties to even), as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundToHalf(float f) => Fp16.ToFloat(Fp16.FromFloat(f));

    /// <summary>f rounded to the nearest bfloat16 value (ties to even), as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundToBF16(float f) => BFloat16.ToFloat(BFloat16.FromFloat(f));

    /// <summary>y[i] = x[i] rounded to the nearest half value (ties to even), exactly as <see cref="RoundToHalf"/>.</summary>
    public static void RoundToHalfRow(float* x, float* y, int n)
    {
        int i = 0;
        if (Simd.Use512)
        {
            var signMask = Vector512.Create(0x80000000u);
            var two24 = Vector512.Create(16777216f);
            var inv24 = Vector512.Create(1f / 16777216f);
            for (; i + 16 <= n; i += 16)
            {
                var u = Vector512.Load(x + i).AsUInt32();
                var sign = u & signMask;
                var a = u & ~signMask;
                // normal half range: drop 13 mantissa bits, rounding ties to even (a carry bumps the exponent)
                var normal = (a + Vector512.Create(0x0FFFu) + ((a >> 13) & Vector512<uint>.One)) & Vector512.Create(0xFFFFE000u);
                // half subnormals and zero: multiples of 2^-24, rounded to even by vcvtps2dq
                var small = (Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(a.AsSingle() * two24)) * inv24).AsUInt32();
                var r = Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(0x38800000u)), small, normal);
                r = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(a, Vector512.Create(0x477FF000u)), Vector512.Create(0x7F800000u), r);
                // NaN stays NaN (quiet)
                r = Vector512.ConditionalSelect(Vector512.GreaterThan(a, Vector512.Create(0x7F800000u)), a | Vector512.Create(0x00400000u), r);
                (r | sign).AsSingle().Store(y + i);
            }
        }
        else if (Simd.Use256)
        {
            // the same steps, 8 lanes at a time
            var signMask = Vector256.Create(0x80000000u);
            var two24 = Vector256.Create(16777216f);
            var inv24 = Vector256.Create(1f / 16777216f);
            for (; i + 8 <= n; i += 8)
            {
                var u = Vector256.Load(x + i).AsUInt32();
                var sign = u & signMask;
                var a = u & ~signMask;
                var normal = (a + Vector256.Create(0x0FFFu) + ((a >> 13) & Vector256<uint>.One)) & Vector256.Create(0xFFFFE000u);
                var small = (Avx.ConvertToVector256Single(Avx.ConvertToVector256Int32(a.AsSingle() * two24)) * inv24).AsUInt32();
                var r = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(0x38800000u)), small, normal);
                r = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a, Vector256.Create(0x477FF000u)), Vector256.Create(0x7F800000u), r);
                r = Vector256.ConditionalSelect(Vector256.GreaterThan(a, Vector256.Create(0x7F800000u)), a | Vector256.Create(0x00400000u), r);
                (r | sign).AsSingle().Store(y + i);
            }
        }
        for (; i < n; i++)
        {
            y[i] = RoundToHalf(x[i]);
        }
    }

    /// <summary>
    /// y[i] = the half bits of x[i], exactly as <see cref="Fp16.FromFloat"/> (ties to even, overflow to infinity,
    /// subnormals kept, any NaN to the quiet 0x7E00 with its sign): 8 lanes at a time on AVX2, packed to 16 bits.
    /// </summary>
    public static void ToHalfRow(float* x, ushort* y, int n)
    {
        int i = 0;
        if (Simd.Use256)
        {
            for (; i + 16 <= n; i += 16)
            {
                var lo = HalfBits(Vector256.Load(x + i).AsUInt32());
                var hi = HalfBits(Vector256.Load(x + i + 8).AsUInt32());
                // packs per 128-bit lane (lo 0..3, hi 0..3, lo 4..7, hi 4..7), then puts the quarters in order
                Avx2.Permute4x64(Avx2.PackUnsignedSaturate(lo, hi).AsUInt64(), 0b11_01_10_00).AsUInt16().Store(y + i);
            }
        }
        for (; i < n; i++)
        {
            y[i] = Fp16.FromFloat(x[i]);
        }
    }

    // 8 floats' half bits in the low 16 bits of each lane (the steps of Fp16.FromFloat, every case computed and selected)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> HalfBits(Vector256<uint> u)
    {
        var sign = (u >> 16) & Vector256.Create(0x8000u);
        var a = u & Vector256.Create(0x7FFFFFFFu);
        // normal: rebias the exponent and drop 13 mantissa bits, ties to even (a carry bumps the exponent)
        var normal = ((a + Vector256.Create(0x0FFFu) + ((a >> 13) & Vector256<uint>.One)) >> 13) - Vector256.Create(112u << 10);
        // subnormal or zero: the value in units of 2^-24, rounded to even by vcvtps2dq
        var small = Avx.ConvertToVector256Int32(a.AsSingle() * Vector256.Create(16777216f)).AsUInt32();
        var r = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(0x38800000u)), small, normal);
        r = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a, Vector256.Create(0x477FF000u)), Vector256.Create(0x7C00u), r);
        r = Vector256.ConditionalSelect(Vector256.GreaterThan(a, Vector256.Create(0x7F800000u)), Vector256.Create(0x7E00u), r);
        return (r | sign).AsInt32();
    }

    /// <summary>y[i] = x[i] rounded to the nearest bfloat16 value (ties to even), exactly as <see cref="RoundToBF16"/>.</summary>
    public static void RoundToBF16Row(float* x, float* y, int n)
    {
        int i = 0;
        if (Simd.Use512)
        {
            for (; i + 16 <= n; i += 16)
            {
                var u = Vector512.Load(x + i).AsUInt32();
                var rounded = (u + Vector512.Create(0x7FFFu) + ((u >> 16) & Vector512<uint>.One)) & Vector512.Create(0xFFFF0000u);
                var nan = Vector512.GreaterThan(u & Vector512.Create(0x7FFFFFFFu), Vector512.Create(0x7F800000u));
                var quiet = ((u >> 16) | Vector512.Create(64u)) << 16;
                Vector512.ConditionalSelect(nan, quiet, rounded).AsSingle().Store(y + i);
            }
        }
        else if (Simd.Use256)
        {
            for (; i + 8 <= n; i += 8)
            {
                var u = Vector256.Load(x + i).AsUInt32();
                var rounded = (u + Vector256.Create(0x7FFFu) + ((u >> 16) & Vector256<uint>.One)) & Vector256.Create(0xFFFF0000u);
                var nan = Vector256.GreaterThan(u & Vector256.Create(0x7FFFFFFFu), Vector256.Create(0x7F800000u));
                var quiet = ((u >> 16) | Vector256.Create(64u)) << 16;
                Vector256.ConditionalSelect(nan, quiet, rounded).AsSingle().Store(y + i);
            }
        }
        for (; i < n; i++)
        {
            y[i] = RoundToBF16(x[i]);
        }
    }

    // Each half is sign-extended to 32 bits and shifted left by 13: bits 13..27 then hold the
    // exponent and mantissa where a float keeps them (scaled by 2^-112, which one multiply by 2^112
    // undoes, subnormals included), and bit 31 holds the sign. Exponent 31 (inf/NaN) lands at or above
    // 2^16 after the multiply and gets the float's all-ones exponent instead. Seven vector ops for
    // sixteen halves; .NET exposes no F16C/AVX-512 vcvtph2ps.

    /// <summary>
    /// 16 finite halves to 16 floats scaled by 2^-112, exactly (half subnormals become float
    /// subnormals): sign-extend, shift the exponent and mantissa into place, clear the sign copies.
    /// Three ops; an infinity or NaN comes out as a wrong finite value, so callers check first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FiniteToScaledFloat(Vector256<short> h) =>
        ((Avx512F.ConvertToVector512Int32(h).AsUInt32() << 13) & Vector512.Create(0x8FFFE000u)).AsSingle();

    /// <summary>8 finite halves to 8 floats scaled by 2^-112, as <see cref="FiniteToScaledFloat(Vector256{short})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FiniteToScaledFloat(Vector128<short> h) =>
        ((Avx2.ConvertToVector256Int32(h).AsUInt32() << 13) & Vector256.Create(0x8FFFE000u)).AsSingle();

    /// <summary>16 finite halves to 16 floats, exactly and unscaled, as <see cref="ExactToFloat(Vector128{short})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExactToFloat(Vector256<short> h)
    {
        var i = Avx512F.ConvertToVector512Int32(h);
        var bits = (i & Vector512.Create(0x7FFF)) << 13;
        var subnormal = Vector512.LessThan(bits, Vector512.Create(0x00800000));
        var t = bits + Vector512.Create(112 << 23) + (subnormal & Vector512.Create(1 << 23));
        var f = t.AsSingle() - (subnormal.AsSingle() & Vector512.Create(6.1035156e-05f)); // 2^-14
        return (f.AsInt32() | (i & Vector512.Create(int.MinValue))).AsSingle();
    }

    /// <summary>
    /// 8 halves (finite) to 8 floats, exactly and unscaled, without a denormal operand anywhere (the FMA that takes
    /// the result then runs at full speed on Intel cores too): a normal half's bits are rebiased; a subnormal one is
    /// 2^-14 * (1 + m/1024) less 2^-14, which is exact.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExactToFloat(Vector128<short> h)
    {
        var i = Avx2.ConvertToVector256Int32(h);
        var bits = (i & Vector256.Create(0x7FFF)) << 13;
        var subnormal = Vector256.LessThan(bits, Vector256.Create(0x00800000));
        var t = bits + Vector256.Create(112 << 23) + (subnormal & Vector256.Create(1 << 23));
        var f = t.AsSingle() - (subnormal.AsSingle() & Vector256.Create(6.1035156e-05f)); // 2^-14
        return (f.AsInt32() | (i & Vector256.Create(int.MinValue))).AsSingle();
    }

    /// <summary>16 halves to 16 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToFloat(Vector256<ushort> h)
    {
        var t = Vector512.WidenLower(h.AsInt16().ToVector512Unsafe()).AsUInt32() << 13;
        var f = ((t & Vector512.Create(0x0FFFE000u)).AsSingle() * Vector512.Create(Two112)).AsUInt32();
        var special = Vector512.GreaterThanOrEqual(f, Vector512.Create(0x47800000u));
        f = Vector512.ConditionalSelect(special, f | Vector512.Create(0x7F800000u), f);
        return (f | (t & Vector512.Create(0x80000000u))).AsSingle();
    }

    /// <summary>8 halves to 8 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToFloat(Vector128<ushort> h)
    {
        var t = Vector256.WidenLower(h.AsInt16().ToVector256Unsafe()).AsUInt32() << 13;
        var f = ((t & Vector256.Create(0x0FFFE000u)).AsSingle() * Vector256.Create(Two112)).AsUInt32();
        var special = Vector256.GreaterThanOrEqual(f, Vector256.Create(0x47800000u));
        f = Vector256.ConditionalSelect(special, f | Vector256.Create(0x7F800000u), f);
        return (f | (t & Vector256.Create(0x80000000u))).AsSingle();
    }

    /// <summary>16 bfloat16 to 16 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> BF16ToFloat(Vector256<ushort> b) => (Vector512.WidenLower(b.ToVector512Unsafe()) << 16).AsSingle();

    /// <summary>8 bfloat16 to 8 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> BF16ToFloat(Vector128<ushort> b) => (Vector256.WidenLower(b.ToVector256Unsafe()) << 16).AsSingle();
}
