namespace Sluice.Engine.Quantization.Codecs;

/// <summary>Rounding helpers with ggml's exact semantics.</summary>
internal static class QuantMath
{
    /// <summary>
    /// ggml's nearest_int: adding 1.5 * 2^23 leaves round(x) (ties to even) in the low mantissa bits, which are
    /// then read back as an integer. Valid for |x| &lt;= 2^22 - 1; the K-quant searches rely on exactly this
    /// rounding, so it must not be replaced by a differently rounding call.
    /// </summary>
    public static int NearestInt(float value)
    {
        float shifted = value + 12582912f;
        return (BitConverter.SingleToInt32Bits(shifted) & 0x007F_FFFF) - 0x0040_0000;
    }

    /// <summary>C's <c>roundf</c>: halves away from zero.</summary>
    public static float RoundHalfAway(float value) => MathF.Round(value, MidpointRounding.AwayFromZero);
}
