using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels.Tiles;

/// <summary>Q8_0: half d, int8 qs[32]. |w| as magnitudes, the sign moved onto the activation.</summary>
internal readonly unsafe struct Q8_0Format : IBlockPairFormat
{
    public static int BlockBytes => 34;

    public static bool Signed => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<sbyte> Values(byte* p) => Vector512.Create(Vector256.Load((sbyte*)(p + 2)), Vector256.Load((sbyte*)(p + 36)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Magnitude(byte* p) => Avx512BW.Abs(Values(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Negative(byte* p) => Vector512.LessThan(Values(p), Vector512<sbyte>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Scale(byte* p, float* halfTable) =>
        Vector512.Create(Vector256.Create(halfTable[*(ushort*)p]), Vector256.Create(halfTable[*(ushort*)(p + 34)]));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Correct(Vector512<int> sums, Vector512<int> xsum) => sums;
}
