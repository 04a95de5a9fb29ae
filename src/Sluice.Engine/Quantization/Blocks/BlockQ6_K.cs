using System.Runtime.InteropServices;

namespace Sluice.Engine.Quantization.Blocks;

/// <summary>
/// 256 values in 16 sub-blocks of 16, each with a signed 8-bit scale: value = d * scales[j] * (q - 32),
/// q a 6-bit quant split into a low nibble (ql) and two high bits (qh). Per half (128 values):
/// ql[l] holds elements l and l + 64 (low/high nibble), ql[l + 32] elements l + 32 and l + 96;
/// qh[l] holds the top bits of l, l + 32, l + 64, l + 96 at bit offsets 0, 2, 4, 6.
/// Layout from ggml-common.h (block_q6_K).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ6_K
{
    public const int Elements = 256;
    public const int Bytes = 210;

    public fixed byte Ql[Elements / 2];
    public fixed byte Qh[Elements / 4];
    public fixed sbyte Scales[Elements / 16];

    /// <summary>Super-block scale, IEEE half bits.</summary>
    public ushort D;
}
