using System.Runtime.InteropServices;
using Sluice.Engine.Quantization.Blocks;

namespace Sluice.Engine.Quantization.Codecs;

/// <summary>
/// Q4_K: super-blocks of 256 in 8 sub-blocks of 32, x ≈ d·sc·q − dmin·m (ggml-quants.c quantize_row_q4_K_ref,
/// the path llama-quantize takes without an importance matrix, and dequantize_row_q4_K).
/// </summary>
public static unsafe class Q4_KCodec
{
    private const int SubBlocks = 8;
    private const int SubBlock = 32;

    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = BlockSpan.ForQuantize(src.Length, dst.Length, BlockQ4_K.Elements, BlockQ4_K.Bytes, "Q4_K");
        var blocks = MemoryMarshal.Cast<byte, BlockQ4_K>(dst);
        Span<byte> levels = stackalloc byte[BlockQ4_K.Elements];
        Span<byte> scratch = stackalloc byte[SubBlock];
        Span<float> weights = stackalloc float[SubBlock];
        Span<float> mins = stackalloc float[SubBlocks];
        Span<float> scales = stackalloc float[SubBlocks];
        Span<byte> packedScales = stackalloc byte[12];

        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockQ4_K.Elements, BlockQ4_K.Elements);
            float maxScale = 0;
            float maxMin = 0;
            for (int j = 0; j < SubBlocks; ++j)
            {
                var xs = x.Slice(j * SubBlock, SubBlock);
                // Weight each value by the sub-block's RMS plus its own magnitude, as the reference does.
                float sumX2 = 0;
                for (int l = 0; l < SubBlock; ++l)
                {
                    sumX2 += xs[l] * xs[l];
                }
                float avX = MathF.Sqrt(sumX2 / 32);
                for (int l = 0; l < SubBlock; ++l)
                {
                    weights[l] = avX + MathF.Abs(xs[l]);
                }
                scales[j] = KQuantSearch.AsymmetricScale(15, xs, weights, levels.Slice(j * SubBlock, SubBlock),
                    out mins[j], scratch, -1f, 0.1f, 20, absoluteError: false);
                if (scales[j] > maxScale)
                {
                    maxScale = scales[j];
                }
                if (mins[j] > maxMin)
                {
                    maxMin = mins[j];
                }
            }

            float invScale = maxScale > 0 ? 63f / maxScale : 0f;
            float invMin = maxMin > 0 ? 63f / maxMin : 0f;
            for (int j = 0; j < SubBlocks; ++j)
            {
                // ggml stores nearest_int's result into a uint8 before capping at 63: keep the wraparound.
                byte ls = Math.Min((byte)63, unchecked((byte)QuantMath.NearestInt(invScale * scales[j])));
                byte lm = Math.Min((byte)63, unchecked((byte)QuantMath.NearestInt(invMin * mins[j])));
                KQuantScales.Set(j, packedScales, ls, lm);
            }
            ref var b = ref blocks[i];
            b.D = Fp16.FromFloat(maxScale / 63f);
            b.DMin = Fp16.FromFloat(maxMin / 63f);
            for (int k = 0; k < 12; k++)
            {
                b.Scales[k] = packedScales[k];
            }

            // Re-quantize against the scales as stored (6-bit, F16) rather than the searched ones.
            float dAll = Fp16.ToFloat(b.D);
            float mAll = Fp16.ToFloat(b.DMin);
            for (int j = 0; j < SubBlocks; ++j)
            {
                KQuantScales.Get(j, packedScales, out byte sc, out byte m);
                float d = dAll * sc;
                if (d == 0)
                {
                    continue;
                }
                float dm = mAll * m;
                for (int ii = 0; ii < SubBlock; ++ii)
                {
                    int l = QuantMath.NearestInt((x[j * SubBlock + ii] + dm) / d);
                    levels[j * SubBlock + ii] = (byte)Math.Clamp(l, 0, 15);
                }
            }

            for (int g = 0; g < 4; g++)
            {
                for (int l = 0; l < 32; ++l)
                {
                    b.Qs[g * 32 + l] = (byte)(levels[g * 64 + l] | (levels[g * 64 + l + 32] << 4));
                }
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = BlockSpan.ForDequantize(src.Length, dst.Length, BlockQ4_K.Elements, BlockQ4_K.Bytes, "Q4_K");
        var blocks = MemoryMarshal.Cast<byte, BlockQ4_K>(src);
        Span<byte> packedScales = stackalloc byte[12];
        for (int i = 0; i < nb; i++)
        {
            ref readonly var b = ref blocks[i];
            float d = Fp16.ToFloat(b.D);
            float min = Fp16.ToFloat(b.DMin);
            for (int k = 0; k < 12; k++)
            {
                packedScales[k] = b.Scales[k];
            }
            var y = dst.Slice(i * BlockQ4_K.Elements, BlockQ4_K.Elements);
            for (int g = 0; g < 4; g++)
            {
                KQuantScales.Get(2 * g, packedScales, out byte sc, out byte m);
                float d1 = d * sc;
                float m1 = min * m;
                KQuantScales.Get(2 * g + 1, packedScales, out sc, out m);
                float d2 = d * sc;
                float m2 = min * m;
                for (int l = 0; l < 32; ++l)
                {
                    byte q = b.Qs[g * 32 + l];
                    y[g * 64 + l] = d1 * (q & 0xF) - m1;
                    y[g * 64 + 32 + l] = d2 * (q >> 4) - m2;
                }
            }
        }
    }
}
