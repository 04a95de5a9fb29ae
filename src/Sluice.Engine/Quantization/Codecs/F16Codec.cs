using System.Runtime.InteropServices;

namespace Sluice.Engine.Quantization.Codecs;

/// <summary>F16 rows: each float rounded to IEEE half (ggml_fp32_to_fp16_row / ggml_fp16_to_fp32_row).</summary>
public static class F16Codec
{
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        BlockSpan.ForQuantize(src.Length, dst.Length, 1, 2, "F16");
        var halves = MemoryMarshal.Cast<byte, ushort>(dst);
        for (int i = 0; i < src.Length; i++)
        {
            halves[i] = Fp16.FromFloat(src[i]);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        BlockSpan.ForDequantize(src.Length, dst.Length, 1, 2, "F16");
        var halves = MemoryMarshal.Cast<byte, ushort>(src);
        for (int i = 0; i < halves.Length; i++)
        {
            dst[i] = Fp16.ToFloat(halves[i]);
        }
    }
}
