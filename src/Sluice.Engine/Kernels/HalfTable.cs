using System.Runtime.CompilerServices;

namespace Sluice.Engine.Kernels;

/// <summary>
/// All 65536 half values as floats (256 KiB, stays in L2). Block scales of quantized weights are
/// halves read one at a time; a table load is far cheaper than .NET's software Half conversion.
/// </summary>
internal static unsafe class HalfTable
{
    /// <summary>The table itself, for kernels that keep it in a register across a loop.</summary>
    public static readonly float* Table = Build();

    private static float* Build()
    {
        var t = (float*)Memory.NativeAllocator.Allocate(65536 * sizeof(float), 64, zero: false);
        for (int i = 0; i < 65536; i++)
        {
            t[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        }
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort h) => Table[h];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(byte* p) => Table[*(ushort*)p];
}
