using System.Runtime.InteropServices;
using Sluice.Engine.Quantization.Blocks;

namespace Sluice.Engine.Quantization.Codecs;

/// <summary>
/// Q8_K: the activation format that K-quant dot products take (ggml-quants.c quantize_row_q8_K_ref, which
/// ggml's x86 CPU backend also uses as is). The value of largest magnitude maps to -127; bsums hold the sum
/// of each 16 quants.
/// </summary>
public static unsafe class Q8_KCodec
{
    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = BlockSpan.ForQuantize(src.Length, dst.Length, BlockQ8_K.Elements, BlockQ8_K.Bytes, "Q8_K");
        var blocks = MemoryMarshal.Cast<byte, BlockQ8_K>(dst);
        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockQ8_K.Elements, BlockQ8_K.Elements);
            ref var b = ref blocks[i];
            float max = 0;
            float amax = 0;
            for (int j = 0; j < x.Length; ++j)
            {
                float ax = MathF.Abs(x[j]);
                if (ax > amax)
                {
                    amax = ax;
                    max = x[j];
                }
            }
            if (amax == 0)
            {
                // ggml leaves bsums untouched here; zero is what they would sum to.
                b = default;
                continue;
            }
            // -127 rather than -128 keeps every quant within ±127 (ggml notes the AVX kernels need that).
            float iscale = -127f / max;
            for (int j = 0; j < x.Length; ++j)
            {
                b.Qs[j] = (sbyte)Math.Min(127, QuantMath.NearestInt(iscale * x[j]));
            }
            for (int g = 0; g < BlockQ8_K.Elements / 16; ++g)
            {
                int sum = 0;
                for (int ii = 0; ii < 16; ++ii)
                {
                    sum += b.Qs[g * 16 + ii];
                }
                b.BSums[g] = (short)sum;
            }
            b.D = 1 / iscale;
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = BlockSpan.ForDequantize(src.Length, dst.Length, BlockQ8_K.Elements, BlockQ8_K.Bytes, "Q8_K");
        var blocks = MemoryMarshal.Cast<byte, BlockQ8_K>(src);
        for (int i = 0; i < nb; i++)
        {
            ref readonly var b = ref blocks[i];
            var y = dst.Slice(i * BlockQ8_K.Elements, BlockQ8_K.Elements);
            for (int j = 0; j < y.Length; ++j)
            {
                y[j] = b.D * b.Qs[j];
            }
        }
    }
}
