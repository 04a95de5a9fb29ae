using Sluice.Engine.Quantization;
using Sluice.Engine.Quantization.Codecs;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Plain scalar dot products of one quantized weight row with one quantized activation row, straight
/// from the block definitions (ggml's layouts, see Quantization/). These are the references the fast
/// kernels are tested against; never delete them.
/// </summary>
public static unsafe class QuantDotReference
{
    // Q8_0 block: half d; int8 qs[32]  (34 bytes). value = d * qs[i]
    public static float Q8_0(byte* w, sbyte* xq, float* xs, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += 34)
        {
            var q = (sbyte*)(w + 2);
            int isum = 0;
            for (int i = 0; i < 32; i++)
            {
                isum += q[i] * xq[b * 32 + i];
            }
            sum += isum * (Fp16.ToFloat(*(ushort*)w) * xs[b]);
        }
        return sum;
    }

    // Q4_0 block: half d; uint8 qs[16] (18 bytes). value j = d * ((qs[j] & 15) - 8), value j+16 = d * ((qs[j] >> 4) - 8)
    public static float Q4_0(byte* w, sbyte* xq, float* xs, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += 18)
        {
            byte* q = w + 2;
            sbyte* x = xq + b * 32;
            int isum = 0;
            for (int j = 0; j < 16; j++)
            {
                isum += ((q[j] & 15) - 8) * x[j] + ((q[j] >> 4) - 8) * x[j + 16];
            }
            sum += isum * (Fp16.ToFloat(*(ushort*)w) * xs[b]);
        }
        return sum;
    }

    // Q4_K block (144 bytes): half d; half dmin; uint8 scales[12] (eight 6-bit scales and mins);
    // uint8 qs[128]. Sub-block s (32 values): value = d * sc[s] * q - dmin * m[s]; chunk c of 32 bytes
    // holds sub-block 2c in its low nibbles and 2c+1 in its high nibbles.
    public static float Q4_K(byte* w, sbyte* xq, float* xs, int* bsums, int superBlocks)
    {
        float sum = 0;
        Span<byte> sc = stackalloc byte[8];
        Span<byte> mn = stackalloc byte[8];
        for (int b = 0; b < superBlocks; b++, w += 144)
        {
            float d = Fp16.ToFloat(*(ushort*)w);
            float dmin = Fp16.ToFloat(*(ushort*)(w + 2));
            Q4KScales(w + 4, sc, mn);
            byte* q = w + 16;
            sbyte* x = xq + b * 256;
            int sumi = 0;
            for (int c = 0; c < 4; c++)
            {
                int lo = 0, hi = 0;
                for (int l = 0; l < 32; l++)
                {
                    lo += (q[c * 32 + l] & 15) * x[c * 64 + l];
                    hi += (q[c * 32 + l] >> 4) * x[c * 64 + 32 + l];
                }
                sumi += sc[2 * c] * lo + sc[2 * c + 1] * hi;
            }
            int summ = 0;
            for (int s = 0; s < 8; s++)
            {
                summ += mn[s] * (bsums[b * 16 + 2 * s] + bsums[b * 16 + 2 * s + 1]);
            }
            sum += xs[b] * (d * sumi - dmin * summ);
        }
        return sum;
    }

    /// <summary>Unpacks Q4_K's twelve scale bytes into eight 6-bit scales and eight 6-bit mins.</summary>
    public static void Q4KScales(byte* s, Span<byte> scales, Span<byte> mins)
    {
        var packed = new ReadOnlySpan<byte>(s, 12);
        for (int j = 0; j < 8; j++)
        {
            KQuantScales.Get(j, packed, out scales[j], out mins[j]);
        }
    }

    // Q6_K block (210 bytes): uint8 ql[128] (low 4 bits); uint8 qh[64] (high 2 bits); int8 scales[16]; half d.
    // value = d * scales[s] * (q - 32) with 16 values per scale.
    public static float Q6_K(byte* w, sbyte* xq, float* xs, int superBlocks)
    {
        float sum = 0;
        Span<int> q = stackalloc int[256];
        for (int b = 0; b < superBlocks; b++, w += 210)
        {
            Q6KValues(w, q);
            var scales = (sbyte*)(w + 192);
            float d = Fp16.ToFloat(*(ushort*)(w + 208));
            sbyte* x = xq + b * 256;
            int sumi = 0;
            for (int s = 0; s < 16; s++)
            {
                int isum = 0;
                for (int i = 0; i < 16; i++)
                {
                    isum += (q[s * 16 + i] - 32) * x[s * 16 + i];
                }
                sumi += scales[s] * isum;
            }
            sum += d * xs[b] * sumi;
        }
        return sum;
    }

    /// <summary>The 256 unsigned 6-bit values of a Q6_K block in element order.</summary>
    public static void Q6KValues(byte* w, Span<int> q)
    {
        byte* ql = w;
        byte* qh = w + 128;
        for (int n = 0; n < 2; n++)
        {
            for (int l = 0; l < 32; l++)
            {
                int o = n * 128 + l;
                q[o] = (ql[l] & 15) | ((qh[l] & 3) << 4);
                q[o + 32] = (ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4);
                q[o + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                q[o + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
            }
            ql += 64;
            qh += 32;
        }
    }
}
