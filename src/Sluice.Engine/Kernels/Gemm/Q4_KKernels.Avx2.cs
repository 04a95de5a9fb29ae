using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// The AVX2 kernel, on the rows-in-lanes layout (<see cref="PackRowsInLanes"/>): a 32-byte load holds 4 bytes of each
/// of 8 rows, one row per 32-bit lane. vpmaddubsw of the nibbles by 4 activations broadcast to every lane leaves two
/// int16 pair sums per row; a sub-block's 8 slices add in int16 (at most 16 * 15 * 127 = 30480) and one vpmaddwd by
/// the row's scale (a pair of int16 in its lane) widens them: the exact <c>sumi</c> with no horizontal reduction.
/// The mins term is one vpmaddwd per pair of sub-blocks against the activation sums, and the float chain is the
/// recipe's (bit-identical to <see cref="Dot"/>).
/// </summary>
internal static unsafe partial class Q4_KKernels
{
    // One token (decode): the integer sums stay in registers (no scratch round trip per sub-block) and the
    // activations are broadcast straight from memory. Two passes over a super-block (rows 0..7, then 8..15) read it
    // from L1; the matrix streams once.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneTokenAvx2(byte* group, int blocks, in Q8KBlocks x, float* y)
    {
        var low = Vector256.Create((byte)15);
        var f0 = Vector256<float>.Zero;
        var f1 = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            sbyte* xq = x.Q + (long)b * 256;
            int* bs = (int*)(x.Sums + (long)b * 8);
            var dx = Vector256.Create(x.D[b]);
            for (int h = 0; h < 2; h++)
            {
                Vector256<int> s0 = default, s1 = default;
                for (int c = 0; c < 4; c++)
                {
                    PackedGroups.PrefetchAheadPart(p, PackedBlockBytes, 4 * h + c, 8);
                    // slices 8c..8c + 7: low nibbles are sub-block 2c, high nibbles 2c + 1
                    byte* q = p + QuantsAt + 512 * c + 32 * h;
                    int* xt = (int*)(xq + 64 * c);
                    var z0 = Vector256.Load(q);
                    var z1 = Vector256.Load(q + 64);
                    var z2 = Vector256.Load(q + 128);
                    var z3 = Vector256.Load(q + 192);
                    var lo = Mad(z0 & low, xt) + Mad(z1 & low, xt + 1) + (Mad(z2 & low, xt + 2) + Mad(z3 & low, xt + 3));
                    var hi = Mad(High(z0, low), xt + 8) + Mad(High(z1, low), xt + 9) + (Mad(High(z2, low), xt + 10) + Mad(High(z3, low), xt + 11));
                    var z4 = Vector256.Load(q + 256);
                    var z5 = Vector256.Load(q + 320);
                    var z6 = Vector256.Load(q + 384);
                    var z7 = Vector256.Load(q + 448);
                    lo += Mad(z4 & low, xt + 4) + Mad(z5 & low, xt + 5) + (Mad(z6 & low, xt + 6) + Mad(z7 & low, xt + 7));
                    hi += Mad(High(z4, low), xt + 12) + Mad(High(z5, low), xt + 13) + (Mad(High(z6, low), xt + 14) + Mad(High(z7, low), xt + 15));
                    s0 += Avx2.MultiplyAddAdjacent(lo, ScalePairs(p + ScalesAt + 16 * (2 * c) + 8 * h));
                    s1 += Avx2.MultiplyAddAdjacent(hi, ScalePairs(p + ScalesAt + 16 * (2 * c + 1) + 8 * h));
                }
                var summ = Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(p + MinsAt + 32 * h)), Avx2.BroadcastScalarToVector256(bs).AsInt16())
                    + Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(p + MinsAt + 64 + 32 * h)), Avx2.BroadcastScalarToVector256(bs + 1).AsInt16())
                    + Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(p + MinsAt + 128 + 32 * h)), Avx2.BroadcastScalarToVector256(bs + 2).AsInt16())
                    + Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(p + MinsAt + 192 + 32 * h)), Avx2.BroadcastScalarToVector256(bs + 3).AsInt16());
                var dw = HalfVectors.ToFloat(Vector128.Load((ushort*)p + 8 * h));
                var dmin = HalfVectors.ToFloat(Vector128.Load((ushort*)p + 16 + 8 * h));
                var f = h == 0 ? f0 : f1;
                f = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s0 + s1), dw * dx, f);
                f = Fma.MultiplyAdd(Avx.ConvertToVector256Single(-summ), dmin * dx, f);
                if (h == 0)
                {
                    f0 = f;
                }
                else
                {
                    f1 = f;
                }
            }
        }
        f0.Store(y);
        f1.Store(y + 8);
    }

    // sub-block outer, tokens inner: the 8 nibble registers of a (sub-block, 8 rows) stay in registers while every
    // token's activations stream past; a token's integer sums wait in scratch (8 int32 a token) between sub-blocks
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows16Avx2(byte* group, int blocks, in Q8KBlocks x, float* acc, float* y, long yStride)
    {
        int n = x.Tokens;
        if (n == 1)
        {
            OneTokenAvx2(group, blocks, x, y);
            return;
        }
        new Span<float>(acc, n * 16).Clear();
        int* sumi = (int*)(acc + n * 16);
        var low = Vector256.Create((byte)15);
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            long bo = (long)b * n;
            for (int h = 0; h < 2; h++)
            {
                new Span<int>(sumi, n * 8).Clear();
                for (int c = 0; c < 4; c++)
                {
                    PackedGroups.PrefetchAheadPart(p, PackedBlockBytes, 4 * h + c, 8);
                    // slices 8c..8c + 7: low nibbles are sub-block 2c, high nibbles 2c + 1
                    byte* q = p + QuantsAt + 512 * c + 32 * h;
                    var z0 = Vector256.Load(q);
                    var z1 = Vector256.Load(q + 64);
                    var z2 = Vector256.Load(q + 128);
                    var z3 = Vector256.Load(q + 192);
                    var z4 = Vector256.Load(q + 256);
                    var z5 = Vector256.Load(q + 320);
                    var z6 = Vector256.Load(q + 384);
                    var z7 = Vector256.Load(q + 448);
                    SubBlock(z0 & low, z1 & low, z2 & low, z3 & low, z4 & low, z5 & low, z6 & low, z7 & low,
                        ScalePairs(p + ScalesAt + 16 * (2 * c) + 8 * h), x.Q + bo * 256 + 64 * c, n, sumi);
                    SubBlock(High(z0, low), High(z1, low), High(z2, low), High(z3, low), High(z4, low), High(z5, low), High(z6, low), High(z7, low),
                        ScalePairs(p + ScalesAt + 16 * (2 * c + 1) + 8 * h), x.Q + bo * 256 + 64 * c + 32, n, sumi);
                }
                var dw = HalfVectors.ToFloat(Vector128.Load((ushort*)p + 8 * h));
                var dmin = HalfVectors.ToFloat(Vector128.Load((ushort*)p + 16 + 8 * h));
                var m0 = Vector256.Load((short*)(p + MinsAt + 32 * h));
                var m1 = Vector256.Load((short*)(p + MinsAt + 64 + 32 * h));
                var m2 = Vector256.Load((short*)(p + MinsAt + 128 + 32 * h));
                var m3 = Vector256.Load((short*)(p + MinsAt + 192 + 32 * h));
                for (int t = 0; t < n; t++)
                {
                    int* bs = (int*)(x.Sums + (bo + t) * 8);
                    var summ = Avx2.MultiplyAddAdjacent(m0, Vector256.Create(bs[0]).AsInt16()) + Avx2.MultiplyAddAdjacent(m1, Vector256.Create(bs[1]).AsInt16())
                        + Avx2.MultiplyAddAdjacent(m2, Vector256.Create(bs[2]).AsInt16()) + Avx2.MultiplyAddAdjacent(m3, Vector256.Create(bs[3]).AsInt16());
                    var dx = Vector256.Create(x.D[bo + t]);
                    float* at = acc + t * 16 + 8 * h;
                    var a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Vector256.Load(sumi + 8 * t)), dw * dx, Vector256.Load(at));
                    Fma.MultiplyAdd(Avx.ConvertToVector256Single(-summ), dmin * dx, a).Store(at);
                }
            }
        }
        for (int t = 0; t < n; t++)
        {
            Vector256.Load(acc + t * 16).Store(y + t * yStride);
            Vector256.Load(acc + t * 16 + 8).Store(y + t * yStride + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> High(Vector256<byte> z, Vector256<byte> low) => (z.AsUInt16() >>> 4).AsByte() & low;

    // 8 rows' scales of one sub-block (bytes) as an int16 pair (scale, scale) per row lane
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> ScalePairs(byte* scales)
    {
        var s = Avx2.ConvertToVector256Int32(scales);
        return (s | (s << 16)).AsInt16();
    }

    // one sub-block of 8 rows (its 32 nibbles a row as 8 slices v0..v7) times the 32 activations at xq + 256 t of
    // every token t, scaled, added to sumi + 8 t
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SubBlock(Vector256<byte> v0, Vector256<byte> v1, Vector256<byte> v2, Vector256<byte> v3,
        Vector256<byte> v4, Vector256<byte> v5, Vector256<byte> v6, Vector256<byte> v7, Vector256<short> scale, sbyte* xq, int n, int* sumi)
    {
        for (int t = 0; t < n; t++, xq += 256, sumi += 8)
        {
            int* xt = (int*)xq;
            var pairs = Mad(v0, xt[0]) + Mad(v1, xt[1]) + (Mad(v2, xt[2]) + Mad(v3, xt[3]))
                + (Mad(v4, xt[4]) + Mad(v5, xt[5]) + (Mad(v6, xt[6]) + Mad(v7, xt[7])));
            (Avx2.MultiplyAddAdjacent(pairs, scale) + Vector256.Load(sumi)).Store(sumi);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Mad(Vector256<byte> nibbles, int quad) => Avx2.MultiplyAddAdjacent(nibbles, Vector256.Create(quad).AsSByte());

    // the same with the broadcast from memory (vpbroadcastd ymm, m32: a load, no shuffle port)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Mad(Vector256<byte> nibbles, int* quad) => Avx2.MultiplyAddAdjacent(nibbles, Avx2.BroadcastScalarToVector256(quad).AsSByte());
}
