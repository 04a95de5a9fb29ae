using System.Runtime.Intrinsics;

namespace Sluice.Engine.Kernels.Tiles;

/// <summary>
/// A 256-value K-quant block read as four 64-value chunks of unsigned values (chunk c pairs with
/// activations 64c..64c+63), each with an int16 scale per 16-bit lane group, plus the block's float
/// scale. The format's offsets (Q4_K mins, Q6_K's -32) become a per-16-values float correction.
/// </summary>
internal unsafe interface ISuperBlockFormat
{
    static abstract int BlockBytes { get; }

    static abstract void Load(byte* p, out Vector512<byte> q0, out Vector512<byte> q1, out Vector512<byte> q2, out Vector512<byte> q3,
        out Vector512<short> s0, out Vector512<short> s1, out Vector512<short> s2, out Vector512<short> s3, out float d);

    /// <summary>Writes the 16 per-16-values correction weights of the block (subtracted after scaling by the activation sums).</summary>
    static abstract void Corrections(byte* p, float* c16);
}
