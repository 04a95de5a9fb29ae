using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels.Tiles;

/// <summary>Q8_0: half d, int8 qs[32]. |w| as magnitudes, the sign moved onto the activation.</summary>
internal readonly unsafe struct Q8_0Format : IBlockPairFormat
{
    public static int BlockBytes => 34;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* p, bool single, out Vector512<byte> magnitude, out Vector512<sbyte> negative, out Vector512<float> scale)
    {
        var lo = Vector256.Load((sbyte*)(p + 2));
        var hi = single ? Vector256<sbyte>.Zero : Vector256.Load((sbyte*)(p + 36));
        var w = Vector512.Create(lo, hi);
        magnitude = Avx512BW.Abs(w);
        negative = Vector512.LessThan(w, Vector512<sbyte>.Zero);
        scale = Vector512.Create(Vector256.Create(HalfTable.ToFloat(p)), Vector256.Create(single ? 0f : HalfTable.ToFloat(p + 34)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Signed(Vector512<sbyte> x, Vector512<sbyte> minusX, Vector512<sbyte> negative) =>
        Vector512.ConditionalSelect(negative, minusX, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Correct(Vector512<int> sums, Vector512<int> xsum) => sums;
}
