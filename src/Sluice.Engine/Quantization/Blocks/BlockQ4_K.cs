using System.Runtime.InteropServices;

namespace Sluice.Engine.Quantization.Blocks;

/// <summary>
/// 256 values in 8 sub-blocks of 32, each with a 6-bit scale and a 6-bit min:
/// value = d * sc[j] * q - dmin * m[j], q in 0..15. The 8 (sc, m) pairs are packed into 12 bytes
/// (see Codecs.KQuantScales); qs holds 4 groups of 32 bytes, each byte carrying sub-block 2g in its
/// low nibble and sub-block 2g + 1 in its high nibble. Layout from ggml-common.h (block_q4_K).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_K
{
    public const int Elements = 256;
    public const int Bytes = 144;

    /// <summary>Super-block scale of the sub-block scales, IEEE half bits.</summary>
    public ushort D;

    /// <summary>Super-block scale of the sub-block mins, IEEE half bits.</summary>
    public ushort DMin;

    public fixed byte Scales[12];
    public fixed byte Qs[Elements / 2];
}
