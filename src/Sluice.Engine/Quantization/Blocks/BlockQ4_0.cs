using System.Runtime.InteropServices;

namespace Sluice.Engine.Quantization.Blocks;

/// <summary>
/// 32 values as an F16 scale and 32 unsigned 4-bit quants offset by 8: value = d * (q - 8).
/// Byte j holds element j in its low nibble and element j + 16 in its high nibble.
/// Layout from ggml-common.h (block_q4_0).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_0
{
    public const int Elements = 32;
    public const int Bytes = 18;

    /// <summary>Scale, IEEE half bits.</summary>
    public ushort D;
    public fixed byte Qs[Elements / 2];
}
