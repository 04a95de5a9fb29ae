using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Kernels.Native;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// Q4_K weights times Q8_K-quantized activations with integer dot products, for any number of tokens.
/// The recipe for one (row, token), which every path here follows exactly:
/// <code>
/// acc = 0
/// for each 256-value super-block b in order:
///     sumi = sum over its 8 sub-blocks s of scale[s] * sum over s of q * x     (exact int; q in 0..15)
///     summ = sum over its 8 sub-blocks s of min[s] * sum over s of x            (exact int)
///     acc  = fma((float)sumi, d[b] * d_x[b], acc)
///     acc  = fma((float)-summ, dmin[b] * d_x[b], acc)
/// </code>
/// which is llama.cpp's Q4_K·Q8_K dot with the float sums taken per super-block in order. The AVX-512
/// kernel (<see cref="PackedGroups"/> layout, 16 rows) multiplies nibbles by the signed activations with
/// vpmaddubsw (pairs of at most 2 * 15 * 127, so the two halves of a sub-block add in int16), applies
/// each sub-block's scale with vpmaddwd, and takes the mins term from per-32 activation sums.
/// </summary>
internal static unsafe partial class Q4_KKernels
{
    private const int BlockBytes = 144;

    // packed group, per super-block: d and dmin (16 halves each, lane order); the mins as int16 pairs
    // (m[2p], m[2p+1]) per lane for p = 0..3; per 4 rows their 8 scales (8 bytes a row); per 4 rows and
    // (32-byte chunk c, half lh) the rows' 16 bytes qs[32c + 16lh ..]
    // (the VNNI layout, PackRowsInLanes, uses the same offsets)
    internal const int MinsAt = 64;
    internal const int ScalesAt = MinsAt + 256;
    internal const int QuantsAt = ScalesAt + 128;

    /// <summary>Bytes one 16-row group takes per super-block once packed.</summary>
    public const int PackedBlockBytes = QuantsAt + 16 * 128;


    /// <summary>The recipe for one row and one token (any instruction set).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(byte* row, int blocks, in Q8KBlocks x, int t)
    {
        byte* sc = stackalloc byte[8];
        byte* mn = stackalloc byte[8];
        float acc = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* blk = row + b * BlockBytes;
            long o = (long)b * x.Tokens + t;
            sbyte* xq = x.Q + o * 256;
            RowDequantizer.ScalesQ4K(blk + 4, sc, mn);
            int sumi = 0, summ = 0;
            for (int s = 0; s < 8; s++)
            {
                sumi += sc[s] * SubBlockSum(blk + 16 + 32 * (s >> 1), 4 * (s & 1), xq + 32 * s);
                summ += mn[s] * x.Sums[o * 8 + s];
            }
            acc = MathF.FusedMultiplyAdd(sumi, HalfTable.ToFloat(blk) * x.D[o], acc);
            acc = MathF.FusedMultiplyAdd(-summ, HalfTable.ToFloat(blk + 2) * x.D[o], acc);
        }
        return acc;
    }

    // sum over 32 values of nibble (at bit shift of qs[l]) * x[l]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SubBlockSum(byte* qs, int shift, sbyte* x)
    {
        if (Simd.Use256)
        {
            var nibbles = (Vector256.Load(qs).AsUInt16() >>> shift).AsByte() & Vector256.Create((byte)15);
            return Vector256.Sum(Simd.DotU8S8(nibbles, Vector256.Load(x)));
        }
        int part = 0;
        for (int l = 0; l < 32; l++)
        {
            part += ((qs[l] >> shift) & 15) * x[l];
        }
        return part;
    }

    /// <summary>
    /// Packs group g (<see cref="PackedGroups"/>) of a Q4_K matrix of at least 16 rows (always succeeds: scales are
    /// widened exactly). For <see cref="VnniKernels"/> and the AVX2 kernel the layout keeps one row per 32-bit lane
    /// instead (<see cref="PackRowsInLanes"/>), in the same number of bytes.
    /// </summary>
    public static bool PackGroup(byte* w, long rb, int rows, int blocks, int g, byte* dst)
    {
        if (RowsInLanes)
        {
            PackRowsInLanes(w, rb, rows, blocks, g, dst);
            return true;
        }
        byte* sc = stackalloc byte[8];
        byte* mn = stackalloc byte[8];
        int first = PackedGroups.FirstRow(g, rows);
        for (int b = 0; b < blocks; b++)
        {
            byte* p = dst + ((long)g * blocks + b) * PackedBlockBytes;
            for (int lane = 0; lane < 16; lane++)
            {
                byte* blk = w + (first + PackedGroups.RowOfLane(lane)) * rb + (long)b * BlockBytes;
                ((ushort*)p)[lane] = *(ushort*)blk;
                ((ushort*)p)[16 + lane] = *(ushort*)(blk + 2);
                RowDequantizer.ScalesQ4K(blk + 4, sc, mn);
                for (int pair = 0; pair < 4; pair++)
                {
                    ((short*)(p + MinsAt + 64 * pair))[2 * lane] = mn[2 * pair];
                    ((short*)(p + MinsAt + 64 * pair))[2 * lane + 1] = mn[2 * pair + 1];
                }
            }
            for (int j = 0; j < 4; j++)
            {
                for (int r = 0; r < 4; r++)
                {
                    byte* blk = w + (first + 4 * j + r) * rb + (long)b * BlockBytes;
                    RowDequantizer.ScalesQ4K(blk + 4, sc, mn);
                    *(ulong*)(p + ScalesAt + 32 * j + 8 * r) = *(ulong*)sc;
                    for (int part = 0; part < 8; part++)
                    {
                        Vector128.Load(blk + 16 + 16 * part).Store(p + QuantsAt + j * 512 + part * 64 + 16 * r);
                    }
                }
            }
        }
        return true;
    }

    // the layout the kernel in use reads: rows in lanes for VNNI and AVX2, lane order for the AVX-512 C# kernel
    private static bool RowsInLanes => VnniKernels.Available || !Simd.Use512;

    /// <summary>
    /// Group g for the VNNI and AVX2 kernels, per super-block with the 16 rows in row order: d and dmin (16 halves each), the mins
    /// as int16 pairs (m[2p], m[2p+1]) per row for p = 0..3, the 8 sub-block scales as bytes (16 rows per sub-block),
    /// then for each 4-byte slice i of qs (chunk c = i / 8) the 16 rows' 4 bytes.
    /// </summary>
    private static void PackRowsInLanes(byte* w, long rb, int rows, int blocks, int g, byte* dst)
    {
        byte* sc = stackalloc byte[8];
        byte* mn = stackalloc byte[8];
        int first = PackedGroups.FirstRow(g, rows);
        for (int b = 0; b < blocks; b++)
        {
            byte* p = dst + ((long)g * blocks + b) * PackedBlockBytes;
            for (int r = 0; r < 16; r++)
            {
                byte* blk = w + (first + r) * rb + (long)b * BlockBytes;
                ((ushort*)p)[r] = *(ushort*)blk;
                ((ushort*)p)[16 + r] = *(ushort*)(blk + 2);
                RowDequantizer.ScalesQ4K(blk + 4, sc, mn);
                for (int pair = 0; pair < 4; pair++)
                {
                    ((short*)(p + MinsAt + 64 * pair))[2 * r] = mn[2 * pair];
                    ((short*)(p + MinsAt + 64 * pair))[2 * r + 1] = mn[2 * pair + 1];
                }
                for (int s = 0; s < 8; s++)
                {
                    p[ScalesAt + 16 * s + r] = sc[s];
                }
                for (int i = 0; i < 32; i++)
                {
                    *(uint*)(p + QuantsAt + 64 * i + 4 * r) = *(uint*)(blk + 16 + 4 * i);
                }
            }
        }
    }

    /// <summary>
    /// One packed 16-row group times every token of <paramref name="x"/>: y[t * yStride + i] for rows
    /// i in 0..15. <paramref name="acc"/> is scratch of <see cref="ScratchFloats"/> floats. AVX-512 or AVX2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows16(byte* group, int blocks, in Q8KBlocks x, float* acc, float* y, long yStride)
    {
        if (VnniKernels.Available)
        {
            VnniKernels.Q4_KRows16(group, blocks, x, acc, y, yStride);
            return;
        }
        if (!Simd.Use512)
        {
            Rows16Avx2(group, blocks, x, acc, y, yStride);
            return;
        }
        int n = x.Tokens;
        if (n == 1)
        {
            OneToken(group, blocks, x, y);
            return;
        }
        new Span<float>(acc, n * 16).Clear();
        // per super-block: nibble registers [sub-block][half][4 rows] (64), then scale registers [sub-block][4 rows] (32)
        byte* values = (byte*)(((nint)(acc + n * 16) + 63) & ~(nint)63);
        byte* scales = values + 64 * 64;
        sbyte* xqs = x.Q;
        short* xsums = x.Sums;
        float* xd = x.D;
        var low = Vector512.Create((byte)15);
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            PackedGroups.PrefetchAhead(p, PackedBlockBytes);
            var dw = HalfVectors.ToFloat(Vector256.Load((ushort*)p));
            var dmin = HalfVectors.ToFloat(Vector256.Load((ushort*)p + 16));
            var m0 = Vector512.Load((short*)(p + MinsAt));
            var m1 = Vector512.Load((short*)(p + MinsAt + 64));
            var m2 = Vector512.Load((short*)(p + MinsAt + 128));
            var m3 = Vector512.Load((short*)(p + MinsAt + 192));
            for (int j = 0; j < 4; j++)
            {
                // each 128-bit lane: one row's 8 scales as int16
                var s8 = Avx512BW.ConvertToVector512Int16(Vector256.Load(p + ScalesAt + 32 * j)).AsByte();
                for (int s = 0; s < 8; s++)
                {
                    Avx512BW.Shuffle(s8, Vector512.Create((ushort)(0x0100 * (2 * s + 1) + 2 * s)).AsByte()).Store(scales + (s * 4 + j) * 64);
                }
                for (int part = 0; part < 8; part++)
                {
                    // part = chunk c * 2 + half lh: low nibbles are sub-block 2c, high nibbles 2c + 1
                    var z = Vector512.Load(p + QuantsAt + j * 512 + part * 64);
                    int c = part >> 1, lh = part & 1;
                    (z & low).Store(values + (((2 * c) * 2 + lh) * 4 + j) * 64);
                    ((z.AsUInt16() >>> 4).AsByte() & low).Store(values + (((2 * c + 1) * 2 + lh) * 4 + j) * 64);
                }
            }
            long bo = (long)b * n;
            for (int t = 0; t < n; t++)
            {
                sbyte* xt = xqs + (bo + t) * 256;
                Vector512<int> d0 = default, d1 = default, d2 = default, d3 = default;
                for (int s = 0; s < 8; s++)
                {
                    var x0 = Avx512F.BroadcastVector128ToVector512((int*)(xt + 32 * s)).AsSByte();
                    var x1 = Avx512F.BroadcastVector128ToVector512((int*)(xt + 32 * s + 16)).AsSByte();
                    byte* v = values + s * 512;
                    short* sc = (short*)(scales + s * 256);
                    d0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Load(v), x0) + Avx512BW.MultiplyAddAdjacent(Vector512.Load(v + 256), x1), Vector512.Load(sc));
                    d1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Load(v + 64), x0) + Avx512BW.MultiplyAddAdjacent(Vector512.Load(v + 320), x1), Vector512.Load(sc + 32));
                    d2 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Load(v + 128), x0) + Avx512BW.MultiplyAddAdjacent(Vector512.Load(v + 384), x1), Vector512.Load(sc + 64));
                    d3 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Load(v + 192), x0) + Avx512BW.MultiplyAddAdjacent(Vector512.Load(v + 448), x1), Vector512.Load(sc + 96));
                }
                var sumi = PackedGroups.Reduce(d0, d1, d2, d3);
                int* bs = (int*)(xsums + (bo + t) * 8);
                var summ = Avx512BW.MultiplyAddAdjacent(m0, Vector512.Create(bs[0]).AsInt16()) + Avx512BW.MultiplyAddAdjacent(m1, Vector512.Create(bs[1]).AsInt16())
                    + Avx512BW.MultiplyAddAdjacent(m2, Vector512.Create(bs[2]).AsInt16()) + Avx512BW.MultiplyAddAdjacent(m3, Vector512.Create(bs[3]).AsInt16());
                float* at = acc + t * 16;
                var dx = Vector512.Create(xd[bo + t]);
                var a = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sumi), dw * dx, Vector512.Load(at));
                Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(-summ), dmin * dx, a).Store(at);
            }
        }
        PackedGroups.StoreRows(acc, n, y, yStride);
    }

    // Rows16 for one token (decode): nibbles and scales made in registers and used at once; staging them in
    // scratch for reuse by every token only pays with several tokens. Same integer sums, same float steps.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneToken(byte* group, int blocks, in Q8KBlocks x, float* y)
    {
        var low = Vector512.Create((byte)15);
        var acc = Vector512<float>.Zero;
        int* bs = (int*)x.Sums;
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            sbyte* xt = x.Q + (long)b * 256;
            var d0 = Vector512<int>.Zero;
            var d1 = Vector512<int>.Zero;
            var d2 = Vector512<int>.Zero;
            var d3 = Vector512<int>.Zero;
            for (int c = 0; c < 4; c++)
            {
                PackedGroups.PrefetchAheadPart(p, PackedBlockBytes, c, 4);
                // sub-blocks 2c (low nibbles) and 2c + 1 (high nibbles), each in two 16-value halves
                var x0 = Avx512F.BroadcastVector128ToVector512((int*)(xt + 64 * c)).AsSByte();
                var x1 = Avx512F.BroadcastVector128ToVector512((int*)(xt + 64 * c + 16)).AsSByte();
                var x2 = Avx512F.BroadcastVector128ToVector512((int*)(xt + 64 * c + 32)).AsSByte();
                var x3 = Avx512F.BroadcastVector128ToVector512((int*)(xt + 64 * c + 48)).AsSByte();
                var lowScale = Vector512.Create((ushort)(0x0100 * (4 * c + 1) + 4 * c)).AsByte();
                var highScale = Vector512.Create((ushort)(0x0100 * (4 * c + 3) + 4 * c + 2)).AsByte();
                d0 += Chunk(p, 0, c, x0, x1, x2, x3, low, lowScale, highScale);
                d1 += Chunk(p, 1, c, x0, x1, x2, x3, low, lowScale, highScale);
                d2 += Chunk(p, 2, c, x0, x1, x2, x3, low, lowScale, highScale);
                d3 += Chunk(p, 3, c, x0, x1, x2, x3, low, lowScale, highScale);
            }
            var sumi = PackedGroups.Reduce(d0, d1, d2, d3);
            int* sums = bs + (long)b * 4;
            var summ = Avx512BW.MultiplyAddAdjacent(Vector512.Load((short*)(p + MinsAt)), Vector512.Create(sums[0]).AsInt16())
                + Avx512BW.MultiplyAddAdjacent(Vector512.Load((short*)(p + MinsAt + 64)), Vector512.Create(sums[1]).AsInt16())
                + Avx512BW.MultiplyAddAdjacent(Vector512.Load((short*)(p + MinsAt + 128)), Vector512.Create(sums[2]).AsInt16())
                + Avx512BW.MultiplyAddAdjacent(Vector512.Load((short*)(p + MinsAt + 192)), Vector512.Create(sums[3]).AsInt16());
            var dx = Vector512.Create(x.D[b]);
            acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sumi), HalfVectors.ToFloat(Vector256.Load((ushort*)p)) * dx, acc);
            acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(-summ), HalfVectors.ToFloat(Vector256.Load((ushort*)p + 16)) * dx, acc);
        }
        float* tmp = stackalloc float[16];
        acc.Store(tmp);
        PackedGroups.StoreRows(tmp, 1, y, 0);
    }

    // rows 4j..4j+3 of a group, 64-value chunk c of a super-block: sub-block 2c's and 2c + 1's scaled sums (4 per row)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Chunk(byte* p, int j, int c, Vector512<sbyte> x0, Vector512<sbyte> x1, Vector512<sbyte> x2, Vector512<sbyte> x3,
        Vector512<byte> low, Vector512<byte> lowScale, Vector512<byte> highScale)
    {
        var s8 = Avx512BW.ConvertToVector512Int16(Vector256.Load(p + ScalesAt + 32 * j)).AsByte();
        var z0 = Vector512.Load(p + QuantsAt + j * 512 + 2 * c * 64);
        var z1 = Vector512.Load(p + QuantsAt + j * 512 + (2 * c + 1) * 64);
        var lo = Avx512BW.MultiplyAddAdjacent(z0 & low, x0) + Avx512BW.MultiplyAddAdjacent(z1 & low, x1);
        var hi = Avx512BW.MultiplyAddAdjacent((z0.AsUInt16() >>> 4).AsByte() & low, x2) + Avx512BW.MultiplyAddAdjacent((z1.AsUInt16() >>> 4).AsByte() & low, x3);
        return Avx512BW.MultiplyAddAdjacent(lo, Avx512BW.Shuffle(s8, lowScale).AsInt16()) + Avx512BW.MultiplyAddAdjacent(hi, Avx512BW.Shuffle(s8, highScale).AsInt16());
    }

    /// <summary>Scratch floats <see cref="Rows16"/> needs for <paramref name="tokens"/> tokens.</summary>
    public static long ScratchFloats(int tokens) => 24L * tokens + 96 * 16 + 16;
}
