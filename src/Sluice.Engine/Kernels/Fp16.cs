using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sluice.Engine.Kernels;

/// <summary>
/// IEEE half and bfloat16 conversions. .NET exposes no F16C instructions, so the vector forms widen
/// the 16-bit patterns and rebuild floats with integer ops and one multiply by 2^112 (which also
/// turns half subnormals into the right float values).
/// </summary>
public static class Fp16
{
    private const float Two112 = 5.192296858534828e33f; // 2^112

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort h) => (float)BitConverter.UInt16BitsToHalf(h);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromFloat(float f) => BitConverter.HalfToUInt16Bits((Half)f);

    /// <summary>f rounded to the nearest half value (ties to even), as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundToHalf(float f) => (float)(Half)f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BF16ToFloat(ushort b) => BitConverter.Int32BitsToSingle(b << 16);

    /// <summary>Float to bfloat16 with round-to-nearest-even; NaN stays a quiet NaN (as ggml does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FloatToBF16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffff) > 0x7f800000)
        {
            return (ushort)((u >> 16) | 64);
        }
        return (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundToBF16(float f) => BF16ToFloat(FloatToBF16(f));

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
