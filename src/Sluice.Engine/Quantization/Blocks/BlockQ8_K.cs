using System.Runtime.InteropServices;

namespace Sluice.Engine.Quantization.Blocks;

/// <summary>
/// Activation block for K-quant dot products: 256 values as an F32 scale and signed 8-bit quants,
/// plus the sum of each group of 16 quants (bsums), which the K-quant kernels use to apply the mins.
/// Layout from ggml-common.h (block_q8_K).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_K
{
    public const int Elements = 256;
    public const int Bytes = 292;

    public float D;
    public fixed sbyte Qs[Elements];
    public fixed short BSums[Elements / 16];
}
