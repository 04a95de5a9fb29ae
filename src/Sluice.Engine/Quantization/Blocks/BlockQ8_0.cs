using System.Runtime.InteropServices;

namespace Sluice.Engine.Quantization.Blocks;

/// <summary>
/// 32 values as an F16 scale and 32 signed 8-bit quants: value = d * qs[i].
/// Layout from ggml-common.h (block_q8_0).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_0
{
    public const int Elements = 32;
    public const int Bytes = 34;

    /// <summary>Scale, IEEE half bits.</summary>
    public ushort D;
    public fixed sbyte Qs[Elements];
}
