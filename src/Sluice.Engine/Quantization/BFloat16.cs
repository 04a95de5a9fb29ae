namespace Sluice.Engine.Quantization;

/// <summary>
/// bfloat16 (the top half of an IEEE float) conversions on raw bits, as ggml_compute_fp32_to_bf16 does them:
/// round to nearest with ties to even, no flushing of subnormals, and NaN truncated with the quiet bit
/// (0x40 of the result) forced on so a NaN never rounds into infinity.
/// </summary>
public static class BFloat16
{
    public static ushort FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000)
        {
            return (ushort)((bits >> 16) | 0x40);
        }
        // Adding just under half an ulp of the result, plus one when the kept part is odd, makes the
        // truncation round to nearest even; an overflow of the exponent correctly yields infinity.
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    public static float ToFloat(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);
}
