using System.Runtime.Intrinsics;

namespace Sluice.Engine.Kernels.Tiles;

/// <summary>
/// A 32-value block format read two blocks per 512-bit register (Q8_0, Q4_0): unsigned magnitudes
/// for vpmaddubsw, the lanes whose weight is negative, and the two blocks' scales, each broadcast
/// over the 8 int32 lanes its block ends up in.
/// </summary>
internal unsafe interface IBlockPairFormat
{
    static abstract int BlockBytes { get; }

    /// <summary>Loads blocks at <paramref name="p"/> (and p + BlockBytes unless <paramref name="single"/>: then the high half is zero).</summary>
    static abstract void Load(byte* p, bool single, out Vector512<byte> magnitude, out Vector512<sbyte> negative, out Vector512<float> scale);

    /// <summary>The activation as the magnitudes must see it (negated where the weight is negative).</summary>
    static abstract Vector512<sbyte> Signed(Vector512<sbyte> x, Vector512<sbyte> minusX, Vector512<sbyte> negative);

    /// <summary>Integer block sums corrected for the format's offset (Q4_0 stores q + 8).</summary>
    static abstract Vector512<int> Correct(Vector512<int> sums, Vector512<int> xsum);
}
