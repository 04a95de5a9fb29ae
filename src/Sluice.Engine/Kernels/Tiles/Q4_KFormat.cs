using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sluice.Engine.Kernels.Tiles;

/// <summary>
/// Q4_K (144 bytes): half d, half dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles; chunk c
/// holds sub-block 2c in its low nibbles and 2c+1 in its high ones. value = d*sc*q - dmin*m.
/// </summary>
internal readonly unsafe struct Q4_KFormat : ISuperBlockFormat
{
    public static int BlockBytes => 144;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* p, out Vector512<byte> q0, out Vector512<byte> q1, out Vector512<byte> q2, out Vector512<byte> q3,
        out Vector512<short> s0, out Vector512<short> s1, out Vector512<short> s2, out Vector512<short> s3, out float d)
    {
        byte* sc = stackalloc byte[8];
        byte* mn = stackalloc byte[8];
        QuantDot.Q4KScales(p + 4, sc, mn);
        d = HalfTable.ToFloat(p);
        q0 = Chunk(p + 16);
        q1 = Chunk(p + 48);
        q2 = Chunk(p + 80);
        q3 = Chunk(p + 112);
        s0 = Scales(sc[0], sc[1]);
        s1 = Scales(sc[2], sc[3]);
        s2 = Scales(sc[4], sc[5]);
        s3 = Scales(sc[6], sc[7]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Chunk(byte* q)
    {
        var v = Vector256.Load(q);
        var mask = Vector256.Create((byte)0x0F);
        return Vector512.Create(v & mask, (v.AsUInt16() >> 4).AsByte() & mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Scales(byte a, byte b) => Vector512.Create(Vector256.Create((short)a), Vector256.Create((short)b));

    public static void Corrections(byte* p, float* c16)
    {
        byte* sc = stackalloc byte[8];
        byte* mn = stackalloc byte[8];
        QuantDot.Q4KScales(p + 4, sc, mn);
        float dmin = HalfTable.ToFloat(p + 2);
        for (int j = 0; j < 8; j++)
        {
            c16[2 * j] = c16[2 * j + 1] = dmin * mn[j];
        }
    }
}
