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
    public static int BlockBytes => 18;

    public static bool Signed => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Magnitude(byte* p)
    {
        var v = Vector256.Create(Vector128.Load(p + 2), Vector128.Load(p + 20));
        var mask = Vector256.Create((byte)0x0F);
        var lo = v & mask;
        var hi = (v.AsUInt16() >> 4).AsByte() & mask;
        // [lo0 lo1 hi0 hi1] -> [lo0 hi0 lo1 hi1]: the activations' element order
        return Avx512F.PermuteVar8x64(Vector512.Create(lo, hi).AsUInt64(), Vector512.Create(0ul, 1, 4, 5, 2, 3, 6, 7)).AsByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Negative(byte* p) => default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Scale(byte* p, float* halfTable) =>
        Vector512.Create(Vector256.Create(halfTable[*(ushort*)p]), Vector256.Create(halfTable[*(ushort*)(p + 18)]));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Correct(Vector512<int> sums, Vector512<int> xsum) => sums - xsum;
}
