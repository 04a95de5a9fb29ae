using System.Runtime.InteropServices;
using Sluice.Engine.Quantization.Blocks;

namespace Sluice.Engine.Quantization.Codecs;

/// <summary>
/// Q4_0: blocks of 32 with scale d = max / -8, where max is the value of largest magnitude, so that value
/// lands exactly on quant 0 (ggml-quants.c quantize_row_q4_0_ref, dequantize_row_q4_0).
/// </summary>
public static unsafe class Q4_0Codec
{
    private const int Half = BlockQ4_0.Elements / 2;

    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = BlockSpan.ForQuantize(src.Length, dst.Length, BlockQ4_0.Elements, BlockQ4_0.Bytes, "Q4_0");
        var blocks = MemoryMarshal.Cast<byte, BlockQ4_0>(dst);
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockQ4_0.Elements, BlockQ4_0.Elements);
            float amax = 0;
            float max = 0;
            for (int j = 0; j < x.Length; j++)
            {
                if (amax < MathF.Abs(x[j]))
                {
                    amax = MathF.Abs(x[j]);
                    max = x[j];
                }
            }
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            ref var b = ref blocks[i];
            b.D = Fp16.FromFloat(d);
            for (int j = 0; j < Half; j++)
            {
                // ggml truncates toward zero after adding 8.5 (so this is round-half-up of x * id + 8), then
                // caps at 15 for the one value that can reach 16.
                int q0 = Math.Min(15, (int)(sbyte)(x[j] * id + 8.5f));
                int q1 = Math.Min(15, (int)(sbyte)(x[j + Half] * id + 8.5f));
                b.Qs[j] = (byte)(q0 | (q1 << 4));
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = BlockSpan.ForDequantize(src.Length, dst.Length, BlockQ4_0.Elements, BlockQ4_0.Bytes, "Q4_0");
        var blocks = MemoryMarshal.Cast<byte, BlockQ4_0>(src);
        for (int i = 0; i < nb; i++)
        {
            ref readonly var b = ref blocks[i];
            float d = Fp16.ToFloat(b.D);
            var y = dst.Slice(i * BlockQ4_0.Elements, BlockQ4_0.Elements);
            for (int j = 0; j < Half; j++)
            {
                y[j] = ((b.Qs[j] & 0x0F) - 8) * d;
                y[j + Half] = ((b.Qs[j] >> 4) - 8) * d;
            }
        }
    }
}
