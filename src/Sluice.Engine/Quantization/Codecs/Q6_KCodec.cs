using System.Runtime.InteropServices;
using Sluice.Engine.Quantization.Blocks;

namespace Sluice.Engine.Quantization.Codecs;

/// <summary>
/// Q6_K: super-blocks of 256 in 16 sub-blocks of 16, x ≈ d·scale·(q − 32) with 8-bit sub-block scales
/// (ggml-quants.c quantize_row_q6_K_ref, the path llama-quantize takes without an importance matrix, and
/// dequantize_row_q6_K).
/// </summary>
public static unsafe class Q6_KCodec
{
    private const int SubBlocks = 16;
    private const int SubBlock = 16;

    public static void Quantize(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int nb = BlockSpan.ForQuantize(src.Length, dst.Length, BlockQ6_K.Elements, BlockQ6_K.Bytes, "Q6_K");
        var blocks = MemoryMarshal.Cast<byte, BlockQ6_K>(dst);
        Span<sbyte> levels = stackalloc sbyte[BlockQ6_K.Elements];
        Span<float> scales = stackalloc float[SubBlocks];

        for (int i = 0; i < nb; i++)
        {
            var x = src.Slice(i * BlockQ6_K.Elements, BlockQ6_K.Elements);
            ref var b = ref blocks[i];
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int ib = 0; ib < SubBlocks; ++ib)
            {
                float scale = KQuantSearch.SymmetricScale(32, x.Slice(ib * SubBlock, SubBlock), levels.Slice(ib * SubBlock, SubBlock));
                scales[ib] = scale;
                float absScale = MathF.Abs(scale);
                if (absScale > maxAbsScale)
                {
                    maxAbsScale = absScale;
                    maxScale = scale;
                }
            }

            if (maxAbsScale < KQuantSearch.GroupMaxEps)
            {
                b = default;
                continue;
            }

            float iscale = -128f / maxScale;
            b.D = Fp16.FromFloat(1 / iscale);
            for (int ib = 0; ib < SubBlocks; ++ib)
            {
                b.Scales[ib] = (sbyte)Math.Min(127, QuantMath.NearestInt(iscale * scales[ib]));
            }

            // Re-quantize against the scales as stored; a zero scale keeps the search's levels, as in ggml.
            float dAll = Fp16.ToFloat(b.D);
            for (int j = 0; j < SubBlocks; ++j)
            {
                float d = dAll * b.Scales[j];
                if (d == 0)
                {
                    continue;
                }
                for (int ii = 0; ii < SubBlock; ++ii)
                {
                    int l = QuantMath.NearestInt(x[j * SubBlock + ii] / d);
                    levels[j * SubBlock + ii] = (sbyte)(Math.Clamp(l, -32, 31) + 32);
                }
            }

            for (int half = 0; half < 2; half++)
            {
                int lb = half * 128;
                for (int l = 0; l < 32; ++l)
                {
                    int q1 = levels[lb + l];
                    int q2 = levels[lb + l + 32];
                    int q3 = levels[lb + l + 64];
                    int q4 = levels[lb + l + 96];
                    b.Ql[half * 64 + l] = (byte)((q1 & 0xF) | ((q3 & 0xF) << 4));
                    b.Ql[half * 64 + l + 32] = (byte)((q2 & 0xF) | ((q4 & 0xF) << 4));
                    b.Qh[half * 32 + l] = (byte)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
                }
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int nb = BlockSpan.ForDequantize(src.Length, dst.Length, BlockQ6_K.Elements, BlockQ6_K.Bytes, "Q6_K");
        var blocks = MemoryMarshal.Cast<byte, BlockQ6_K>(src);
        for (int i = 0; i < nb; i++)
        {
            ref readonly var b = ref blocks[i];
            float d = Fp16.ToFloat(b.D);
            var y = dst.Slice(i * BlockQ6_K.Elements, BlockQ6_K.Elements);
            for (int half = 0; half < 2; half++)
            {
                int ql = half * 64;
                int qh = half * 32;
                int sc = half * 8;
                int yb = half * 128;
                for (int l = 0; l < 32; ++l)
                {
                    int s = l / 16;
                    int q1 = ((b.Ql[ql + l] & 0xF) | (((b.Qh[qh + l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((b.Ql[ql + l + 32] & 0xF) | (((b.Qh[qh + l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((b.Ql[ql + l] >> 4) | (((b.Qh[qh + l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((b.Ql[ql + l + 32] >> 4) | (((b.Qh[qh + l] >> 6) & 3) << 4)) - 32;
                    y[yb + l] = d * b.Scales[sc + s] * q1;
                    y[yb + l + 32] = d * b.Scales[sc + s + 2] * q2;
                    y[yb + l + 64] = d * b.Scales[sc + s + 4] * q3;
                    y[yb + l + 96] = d * b.Scales[sc + s + 6] * q4;
                }
            }
        }
    }
}
