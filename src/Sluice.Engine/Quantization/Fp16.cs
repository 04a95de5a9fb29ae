namespace Sluice.Engine.Quantization;

/// <summary>
/// IEEE binary16 conversions on raw bits, rounding as ggml does (round to nearest, ties to even;
/// overflow to infinity; subnormals kept). NaN handling follows ggml_compute_fp32_to_fp16 and
/// ggml_compute_fp16_to_fp32: any float NaN becomes the quiet half NaN 0x7E00 with the sign kept, and a
/// half NaN widens with its payload and the quiet bit set. Written out rather than using <see cref="Half"/>
/// so the result does not depend on the runtime's conversion path.
/// </summary>
public static class Fp16
{
    private const uint F32SignMask = 0x8000_0000;
    private const uint F32AbsMask = 0x7FFF_FFFF;
    private const uint F32Infinity = 0x7F80_0000;

    /// <summary>Smallest float magnitude that rounds to half infinity: halfway between 65504 and 65536.</summary>
    private const uint F32HalfOverflow = 0x477F_F000;

    /// <summary>2^-14, the smallest normal half.</summary>
    private const uint F32HalfMinNormal = 0x3880_0000;

    public static ushort FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        ushort sign = (ushort)((bits & F32SignMask) >> 16);
        uint abs = bits & F32AbsMask;
        if (abs > F32Infinity)
        {
            return (ushort)(sign | 0x7E00);
        }
        if (abs >= F32HalfOverflow)
        {
            return (ushort)(sign | 0x7C00);
        }
        if (abs >= F32HalfMinNormal)
        {
            // Re-bias the exponent (127 -> 15) and drop 13 mantissa bits, rounding ties to even. A carry out
            // of the mantissa correctly bumps the exponent.
            uint half = (abs >> 13) - (112u << 10);
            uint rest = abs & 0x1FFF;
            if (rest > 0x1000 || (rest == 0x1000 && (half & 1) != 0))
            {
                half++;
            }
            return (ushort)(sign | half);
        }
        // Subnormal half (or zero): the value in units of 2^-24. Scaling by a power of two is exact, and the
        // default rounding of MathF.Round is to even; 1024 comes out as the smallest normal, as it should.
        float units = BitConverter.UInt32BitsToSingle(abs) * 16777216f;
        return (ushort)(sign | (uint)MathF.Round(units));
    }

    public static float ToFloat(ushort half)
    {
        uint sign = (uint)(half & 0x8000) << 16;
        uint exponent = (uint)(half >> 10) & 0x1F;
        uint mantissa = half & 0x3FFu;
        if (exponent == 0x1F)
        {
            // Infinity, or NaN with its payload widened and marked quiet.
            uint quiet = mantissa != 0 ? 0x0040_0000u : 0;
            return BitConverter.UInt32BitsToSingle(sign | F32Infinity | quiet | (mantissa << 13));
        }
        if (exponent == 0)
        {
            // Zero or subnormal: mantissa * 2^-24, exact in float.
            float magnitude = mantissa * (1f / 16777216f);
            return BitConverter.UInt32BitsToSingle(sign | BitConverter.SingleToUInt32Bits(magnitude));
        }
        return BitConverter.UInt32BitsToSingle(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }
}
