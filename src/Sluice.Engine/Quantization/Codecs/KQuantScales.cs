namespace Sluice.Engine.Quantization.Codecs;

/// <summary>
/// The 12-byte scale/min field of Q4_K (and Q5_K): eight 6-bit scales and eight 6-bit mins. Sub-blocks 0-3
/// keep scale and min in the low 6 bits of bytes j and j + 4; sub-blocks 4-7 keep their low 4 bits in the
/// nibbles of byte j + 4 and their top 2 bits in the spare high bits of bytes j - 4 (scale) and j (min).
/// Layout from ggml-quants.c (get_scale_min_k4 and quantize_row_q4_K_ref).
/// </summary>
internal static class KQuantScales
{
    public static void Get(int j, ReadOnlySpan<byte> packed, out byte scale, out byte min)
    {
        if (j < 4)
        {
            scale = (byte)(packed[j] & 63);
            min = (byte)(packed[j + 4] & 63);
        }
        else
        {
            scale = (byte)((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4));
            min = (byte)((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
        }
    }

    /// <summary>Stores sub-block j's 6-bit scale and min; call for j = 0..7 in order (4-7 add bits to 0-3's bytes).</summary>
    public static void Set(int j, Span<byte> packed, byte scale, byte min)
    {
        if (j < 4)
        {
            packed[j] = scale;
            packed[j + 4] = min;
        }
        else
        {
            packed[j + 4] = (byte)((scale & 0xF) | ((min & 0xF) << 4));
            packed[j - 4] |= (byte)((scale >> 4) << 6);
            packed[j] |= (byte)((min >> 4) << 6);
        }
    }
}
