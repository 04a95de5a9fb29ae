using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels.Tiles;

/// <summary>
/// Q4_0: half d, 16 bytes of nibbles (values j and j+16 share byte j), value = q - 8. The nibbles
/// themselves are the magnitudes; the -8 comes back as -8 * sum(x) per block, spread over its 8 lanes.
/// </summary>
internal readonly unsafe struct Q4_0Format : IBlockPairFormat
{
    private static readonly Vector512<ulong> Interleave = Vector512.Create(0ul, 1, 4, 5, 2, 3, 6, 7);

    public static int BlockBytes => 18;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* p, bool single, out Vector512<byte> magnitude, out Vector512<sbyte> negative, out Vector512<float> scale)
    {
        var v = Vector256.Create(Vector128.Load(p + 2), single ? Vector128<byte>.Zero : Vector128.Load(p + 20));
        var mask = Vector256.Create((byte)0x0F);
        var lo = v & mask;
        var hi = (v.AsUInt16() >> 4).AsByte() & mask;
        // [lo0 lo1 hi0 hi1] -> [lo0 hi0 lo1 hi1]: the activations' element order
        magnitude = Avx512F.PermuteVar8x64(Vector512.Create(lo, hi).AsUInt64(), Interleave).AsByte();
        negative = default;
        scale = Vector512.Create(Vector256.Create(HalfTable.ToFloat(p)), Vector256.Create(single ? 0f : HalfTable.ToFloat(p + 18)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Signed(Vector512<sbyte> x, Vector512<sbyte> minusX, Vector512<sbyte> negative) => x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Correct(Vector512<int> sums, Vector512<int> xsum) => sums - xsum;
}
