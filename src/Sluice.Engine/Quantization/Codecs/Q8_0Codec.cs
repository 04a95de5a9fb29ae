using System.Runtime.InteropServices;
using Sluice.Engine.Quantization.Blocks;

namespace Sluice.Engine.Quantization.Codecs;

/// <summary>
/// Q8_0: blocks of 32 with scale amax / 127 (ggml-quants.c quantize_row_q8_0_ref, dequantize_row_q8_0).
/// </summary>
public static unsafe class Q8_0Codec
{
    /// <summary>ggml's reference quantizer: the one llama-quantize uses for weights; quants round half away from zero.</summary>
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = BlockSpan.ForQuantize(src.Length, dst.Length, BlockQ8_0.Elements, BlockQ8_0.Bytes, "Q8_0");
        var blocks = MemoryMarshal.Cast<byte, BlockQ8_0>(dst);
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockQ8_0.Elements, BlockQ8_0.Elements);
            float amax = 0;
            for (int j = 0; j < x.Length; j++)
            {
                float a = MathF.Abs(x[j]);
                amax = amax > a ? amax : a;
            }
            float d = amax / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            ref var b = ref blocks[i];
            b.D = Fp16.FromFloat(d);
            for (int j = 0; j < x.Length; j++)
            {
                b.Qs[j] = (sbyte)QuantMath.RoundHalfAway(x[j] * id);
            }
        }
    }

    /// <summary>
    /// The activation quantizer of ggml's x86 CPU backend (quantize_row_q8_0 with AVX/AVX2), which is what
    /// llama.cpp applies to the inputs of Q8_0/Q4_0 matrix products there. It differs from the reference in
    /// two details: the multiplier is 127 / amax (not 1 / d) and quants round half to even.
    /// </summary>
    public static void QuantizeLikeX86Backend(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = BlockSpan.ForQuantize(src.Length, dst.Length, BlockQ8_0.Elements, BlockQ8_0.Bytes, "Q8_0");
        var blocks = MemoryMarshal.Cast<byte, BlockQ8_0>(dst);
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockQ8_0.Elements, BlockQ8_0.Elements);
            float amax = 0;
            for (int j = 0; j < x.Length; j++)
            {
                amax = MathF.Max(amax, MathF.Abs(x[j]));
            }
            float id = amax != 0 ? 127f / amax : 0f;
            ref var b = ref blocks[i];
            b.D = Fp16.FromFloat(amax / 127f);
            for (int j = 0; j < x.Length; j++)
            {
                b.Qs[j] = (sbyte)MathF.Round(x[j] * id, MidpointRounding.ToEven);
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = BlockSpan.ForDequantize(src.Length, dst.Length, BlockQ8_0.Elements, BlockQ8_0.Bytes, "Q8_0");
        var blocks = MemoryMarshal.Cast<byte, BlockQ8_0>(src);
        for (int i = 0; i < nb; i++)
        {
            ref readonly var b = ref blocks[i];
            float d = Fp16.ToFloat(b.D);
            var y = dst.Slice(i * BlockQ8_0.Elements, BlockQ8_0.Elements);
            for (int j = 0; j < y.Length; j++)
            {
                y[j] = b.Qs[j] * d;
            }
        }
    }
}
