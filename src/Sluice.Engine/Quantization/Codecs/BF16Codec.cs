using System.Runtime.InteropServices;

namespace Sluice.Engine.Quantization.Codecs;

/// <summary>BF16 rows (ggml_fp32_to_bf16_row_ref / ggml_bf16_to_fp32_row).</summary>
public static class BF16Codec
{
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        BlockSpan.ForQuantize(src.Length, dst.Length, 1, 2, "BF16");
        var values = MemoryMarshal.Cast<byte, ushort>(dst);
        for (int i = 0; i < src.Length; i++)
        {
            values[i] = BFloat16.FromFloat(src[i]);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        BlockSpan.ForDequantize(src.Length, dst.Length, 1, 2, "BF16");
        var values = MemoryMarshal.Cast<byte, ushort>(src);
        for (int i = 0; i < values.Length; i++)
        {
            dst[i] = BFloat16.ToFloat(values[i]);
        }
    }
}
