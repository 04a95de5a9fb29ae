using System.Runtime.Intrinsics;

namespace Sluice.Engine.Kernels.Tiles;

/// <summary>
/// A 32-value block format read two blocks per 512-bit register (Q8_0, Q4_0): unsigned magnitudes
/// for vpmaddubsw, the lanes whose weight is negative, and the two blocks' scales, each broadcast
/// over the 8 int32 lanes its block ends up in. Each member returns one value so that, inlined into
/// a kernel's loop, nothing is address-exposed and everything stays in registers.
/// </summary>
internal unsafe interface IBlockPairFormat
{
    static abstract int BlockBytes { get; }

    /// <summary>Whether weights carry a sign (Q8_0) that must move onto the activations.</summary>
    static abstract bool Signed { get; }

    /// <summary>Unsigned magnitudes of the 64 values of the two blocks at <paramref name="p"/>, in activation order.</summary>
    static abstract Vector512<byte> Magnitude(byte* p);

    /// <summary>All-ones lanes where the weight is negative (Signed formats only).</summary>
    static abstract Vector512<sbyte> Negative(byte* p);

    /// <summary>Both blocks' scales: lanes 0-7 the first block's, 8-15 the second's.</summary>
    static abstract Vector512<float> Scale(byte* p, float* halfTable);

    /// <summary>Integer block sums corrected for the format's offset (Q4_0 stores q + 8).</summary>
    static abstract Vector512<int> Correct(Vector512<int> sums, Vector512<int> xsum);
}
