using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Vector half and bfloat16 widening (scalar conversions are in Quantization's Fp16 and BFloat16).
/// .NET exposes no F16C instructions, so these widen the 16-bit patterns and rebuild floats with
/// integer ops and one multiply by 2^112 (which also turns half subnormals into the right values).
/// </summary>
public static class HalfVectors
{
    private const float Two112 = 5.192296858534828e33f; // 2^112

    /// <summary>f rounded to the nearest half value (ties to even), as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundToHalf(float f) => Fp16.ToFloat(Fp16.FromFloat(f));

    /// <summary>f rounded to the nearest bfloat16 value (ties to even), as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundToBF16(float f) => BFloat16.ToFloat(BFloat16.FromFloat(f));

    /// <summary>16 halves to 16 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToFloat(Vector256<ushort> h) => Widened(Vector512.WidenLower(h.ToVector512Unsafe()));

    /// <summary>8 halves to 8 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToFloat(Vector128<ushort> h) => Widened(Vector256.WidenLower(h.ToVector256Unsafe()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widened(Vector512<uint> w)
    {
        var sign = (w & Vector512.Create(0x8000u)) << 16;
        var em = (w & Vector512.Create(0x7fffu)) << 13;
        var f = em.AsSingle() * Vector512.Create(Two112);
        // exponent 31 (inf/NaN) must map to exponent 255
        var special = Vector512.GreaterThanOrEqual(em, Vector512.Create(0x7c00u << 13));
        var fixedUp = Vector512.ConditionalSelect(special, em | Vector512.Create(0x7f800000u), f.AsUInt32());
        return (fixedUp | sign).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Widened(Vector256<uint> w)
    {
        var sign = (w & Vector256.Create(0x8000u)) << 16;
        var em = (w & Vector256.Create(0x7fffu)) << 13;
        var f = em.AsSingle() * Vector256.Create(Two112);
        var special = Vector256.GreaterThanOrEqual(em, Vector256.Create(0x7c00u << 13));
        var fixedUp = Vector256.ConditionalSelect(special, em | Vector256.Create(0x7f800000u), f.AsUInt32());
        return (fixedUp | sign).AsSingle();
    }

    /// <summary>16 bfloat16 to 16 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> BF16ToFloat(Vector256<ushort> b) => (Vector512.WidenLower(b.ToVector512Unsafe()) << 16).AsSingle();

    /// <summary>8 bfloat16 to 8 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> BF16ToFloat(Vector128<ushort> b) => (Vector256.WidenLower(b.ToVector256Unsafe()) << 16).AsSingle();
}
