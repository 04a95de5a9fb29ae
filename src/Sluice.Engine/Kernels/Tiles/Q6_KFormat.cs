using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sluice.Engine.Kernels.Tiles;

/// <summary>
/// Q6_K (210 bytes): 128 bytes low nibbles, 64 bytes of 2-bit highs, 16 int8 scales, half d; value =
/// d*sc*(q - 32) with a scale per 16 values. Half n gives chunks A (values 128n..128n+63) and B (+64).
/// </summary>
internal readonly unsafe struct Q6_KFormat : ISuperBlockFormat
{
    public static int BlockBytes => 210;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(byte* p, out Vector512<byte> q0, out Vector512<byte> q1, out Vector512<byte> q2, out Vector512<byte> q3,
        out Vector512<short> s0, out Vector512<short> s1, out Vector512<short> s2, out Vector512<short> s3, out float d)
    {
        var sc = (sbyte*)(p + 192);
        d = HalfTable.ToFloat(p + 208);
        Half(p, 0, out q0, out q1);
        Half(p, 1, out q2, out q3);
        s0 = Scales(sc);
        s1 = Scales(sc + 4);
        s2 = Scales(sc + 8);
        s3 = Scales(sc + 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Half(byte* p, int n, out Vector512<byte> a, out Vector512<byte> b)
    {
        var m4 = Vector512.Create((byte)0x0F);
        var m2 = Vector512.Create((byte)0x03);
        var ql = Vector512.Load(p + n * 64);
        var qh = Vector256.Load(p + 128 + n * 32);
        var qhA = Vector512.Create(qh, (qh.AsUInt16() >> 2).AsByte());
        var qhB = Vector512.Create((qh.AsUInt16() >> 4).AsByte(), (qh.AsUInt16() >> 6).AsByte());
        a = (ql & m4) | ((qhA & m2).AsUInt16() << 4).AsByte();
        b = ((ql.AsUInt16() >> 4).AsByte() & m4) | ((qhB & m2).AsUInt16() << 4).AsByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Scales(sbyte* s) => Vector512.Create(
        Vector256.Create(Vector128.Create((short)s[0]), Vector128.Create((short)s[1])),
        Vector256.Create(Vector128.Create((short)s[2]), Vector128.Create((short)s[3])));

    public static void Corrections(byte* p, float* c16)
    {
        var sc = (sbyte*)(p + 192);
        float d32 = 32 * HalfTable.ToFloat(p + 208);
        for (int s = 0; s < 16; s++)
        {
            c16[s] = d32 * sc[s];
        }
    }
}
