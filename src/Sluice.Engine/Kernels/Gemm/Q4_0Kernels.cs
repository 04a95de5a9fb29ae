using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Kernels.Native;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// Q4_0 weights times Q8_0-quantized activations with integer block dot products, for any number of
/// tokens. The recipe for one (row, token), which every path here follows exactly:
/// <code>
/// acc = 0
/// for each block b in order:
///     sumi = sum over the block of (nibble - 8) * q          (exact int)
///     acc  = fma((float)sumi, d_w[b] * d_x[b], acc)
/// </code>
/// (llama.cpp's Q4_0·Q8_0 dot takes the same per-block products; it only sums them in another order).
/// Because the integer sums are exact, a kernel may form them any way it likes; only the float chain
/// is fixed, which keeps results independent of the batch. The AVX-512 kernel works on packed 16-row
/// groups (<see cref="PackedGroups"/>) with one row per 32-bit lane: a 64-byte slice holds 4 bytes of
/// each of the 16 rows, whose low nibbles are 4 consecutive values and high nibbles the 4 values 16 on.
/// vpmaddubsw against those 4 activations broadcast to every lane gives 2 int16 pair sums per row (at
/// most 2 * 15 * 127); the 8 slices of a block add in int16 (at most 8 * 3810 &lt; 32768) and one
/// vpmaddwd widens the row sums, with no horizontal reduction.
/// </summary>
internal static unsafe class Q4_0Kernels
{
    private const int BlockBytes = 18;

    /// <summary>The recipe for one row and one token, one block at a time (any instruction set).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(byte* row, int blocks, in Q8Blocks x, int t)
    {
        float acc = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* blk = row + b * BlockBytes;
            long o = (long)b * x.Tokens + t;
            int sumi = BlockSum(blk + 2, x.Q + o * 32) - 8 * x.S[o];
            acc = MathF.FusedMultiplyAdd(sumi, HalfTable.ToFloat(blk) * x.D[o], acc);
        }
        return acc;
    }

    // sum of nibble * q over one block (nibbles unsigned, 0..15)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BlockSum(byte* qs, sbyte* q)
    {
        if (Simd.Use256)
        {
            var packed = Vector128.Load(qs);
            var nibbles = Vector256.Create(packed & Vector128.Create((byte)15), (packed.AsUInt16() >>> 4).AsByte() & Vector128.Create((byte)15));
            return Vector256.Sum(Simd.DotU8S8(nibbles, Vector256.Load(q)));
        }
        int s = 0;
        for (int i = 0; i < 16; i++)
        {
            s += (qs[i] & 15) * q[i] + (qs[i] >> 4) * q[i + 16];
        }
        return s;
    }

    /// <summary>Bytes one 16-row group takes per block once packed: 16 scales, then 16 rows of 16 bytes.</summary>
    public const int PackedBlockBytes = 32 + 16 * 16;

    /// <summary>Scratch floats <see cref="Rows16"/> needs for <paramref name="tokens"/> tokens: 16 sums per token.</summary>
    public static long ScratchFloats(int tokens) => 16L * tokens;

    /// <summary>
    /// Packs group g of a Q4_0 matrix of at least 16 rows, block by block: the 16 scales in row order,
    /// then for each 4 bytes of a block's packed nibbles the 16 rows' 4 bytes, so decode reads one
    /// sequential stream. Group g holds rows 16g..16g+15; a last partial group holds the last 16 rows.
    /// Returns false (leaving <paramref name="dst"/> partly written) if a scale is an infinity or NaN:
    /// the kernel widens scales in a way that is exact only for finite halves.
    /// </summary>
    public static bool PackGroup(byte* w, long rb, int rows, int blocks, int g, byte* dst) =>
        PackedGroups.PackRowsInLanes(w, rb, rows, blocks, g, dst, BlockBytes, 16, 4);

    /// <summary>
    /// One packed 16-row group (<see cref="PackGroup"/>) times every token of <paramref name="x"/>:
    /// y[t * yStride + i] for rows i in 0..15. <paramref name="acc"/> is scratch for 16 floats per token.
    /// AVX-512 or AVX2.
    /// </summary>
    public static void Rows16(byte* group, int blocks, in Q8Blocks x, float* acc, float* y, long yStride)
    {
        if (VnniKernels.Available)
        {
            VnniKernels.Q4_0Rows16(group, blocks, x, acc, y, yStride);
        }
        else if (Simd.Use512)
        {
            Rows16Avx512(group, blocks, x, acc, y, yStride);
        }
        else
        {
            new Span<float>(acc, x.Tokens * 16).Clear();
            for (int b = 0; b < blocks; b++)
            {
                byte* p = group + (long)b * PackedBlockBytes;
                PackedGroups.PrefetchAhead(p, PackedBlockBytes);
                HalfAvx2(p, 0, x, b, acc);
                HalfAvx2(p, 1, x, b, acc);
            }
            for (int t = 0; t < x.Tokens; t++)
            {
                Vector256.Load(acc + t * 16).Store(y + t * yStride);
                Vector256.Load(acc + t * 16 + 8).Store(y + t * yStride + 8);
            }
        }
    }

    /// <summary>
    /// The same layout on AVX2, one 8-row half (rows 8h..8h+7: 32 bytes of each 64-byte slice) of block
    /// <paramref name="b"/> for every token: its 8 nibble registers stay in ymm registers across the
    /// tokens. Same exact block sums and float chain per row as the AVX-512 kernel (bit-identical).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void HalfAvx2(byte* p, int h, in Q8Blocks x, int b, float* acc)
    {
        int n = x.Tokens;
        var low = Vector256.Create((byte)15);
        // the rows' scales unscaled once (times 2^112 is exact), so each token's scale is one multiply by its d
        // broadcast from memory: the same single rounding of d_w * d_x as the recipe's
        var dw = HalfVectors.FiniteToScaledFloat(Vector128.Load((short*)p + 8 * h)) * Vector256.Create(HalfVectors.Two112);
        var z0 = Vector256.Load(p + 32 + 32 * h);
        var z1 = Vector256.Load(p + 96 + 32 * h);
        var z2 = Vector256.Load(p + 160 + 32 * h);
        var z3 = Vector256.Load(p + 224 + 32 * h);
        var lo0 = z0 & low;
        var lo1 = z1 & low;
        var lo2 = z2 & low;
        var lo3 = z3 & low;
        var hi0 = (z0.AsUInt16() >>> 4).AsByte() & low;
        var hi1 = (z1.AsUInt16() >>> 4).AsByte() & low;
        var hi2 = (z2.AsUInt16() >>> 4).AsByte() & low;
        var hi3 = (z3.AsUInt16() >>> 4).AsByte() & low;
        long bo = (long)b * n;
        int* xq = (int*)(x.Q + bo * 32);
        float* xd = x.D + bo;
        int* xs = x.S + bo;
        float* a = acc + 8 * h;
        for (int t = 0; t < n; t++, xq += 8, a += 16)
        {
            var s0 = Mad(lo0, xq[0]) + Mad(lo1, xq[1]);
            var s1 = Mad(lo2, xq[2]) + Mad(lo3, xq[3]);
            var s2 = Mad(hi0, xq[4]) + Mad(hi1, xq[5]);
            var s3 = Mad(hi2, xq[6]) + Mad(hi3, xq[7]);
            // the block's activation sum and scale come as loads that broadcast (no shuffle, no scalar op)
            var sums = Avx2.MultiplyAddAdjacent(s0 + s1 + (s2 + s3), Vector256<short>.One) - (Avx2.BroadcastScalarToVector256(xs + t) << 3);
            var scale = dw * Avx.BroadcastScalarToVector256(xd + t);
            Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), scale, Vector256.Load(a)).Store(a);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Mad(Vector256<byte> nibbles, int quad) => Avx2.MultiplyAddAdjacent(nibbles, Vector256.Create(quad).AsSByte());

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows16Avx512(byte* group, int blocks, in Q8Blocks x, float* acc, float* y, long yStride)
    {
        int n = x.Tokens;
        new Span<float>(acc, n * 16).Clear();
        sbyte* xq = x.Q;
        float* xd = x.D;
        int* xs = x.S;
        var low = Vector512.Create((byte)15);
        var ones = Vector512<short>.One;
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            PackedGroups.PrefetchAhead(p, PackedBlockBytes);
            var dw = PackedGroups.Scales(p);
            var z0 = Vector512.Load(p + 32);
            var z1 = Vector512.Load(p + 96);
            var z2 = Vector512.Load(p + 160);
            var z3 = Vector512.Load(p + 224);
            // per row (32-bit lane): values 4m..4m+3 (lo m) and 16+4m..16+4m+3 (hi m)
            var lo0 = z0 & low;
            var lo1 = z1 & low;
            var lo2 = z2 & low;
            var lo3 = z3 & low;
            var hi0 = (z0.AsUInt16() >>> 4).AsByte() & low;
            var hi1 = (z1.AsUInt16() >>> 4).AsByte() & low;
            var hi2 = (z2.AsUInt16() >>> 4).AsByte() & low;
            var hi3 = (z3.AsUInt16() >>> 4).AsByte() & low;
            long bo = (long)b * n;
            for (int t = 0; t < n; t++)
            {
                int* q = (int*)(xq + (bo + t) * 32);
                var s0 = Mad(lo0, q[0]) + Mad(lo1, q[1]);
                var s1 = Mad(lo2, q[2]) + Mad(lo3, q[3]);
                var s2 = Mad(hi0, q[4]) + Mad(hi1, q[5]);
                var s3 = Mad(hi2, q[6]) + Mad(hi3, q[7]);
                var sums = Avx512BW.MultiplyAddAdjacent(s0 + s1 + (s2 + s3), ones) - Vector512.Create(xs[bo + t] << 3);
                float* a = acc + t * 16;
                var scale = dw * Vector512.Create(xd[bo + t] * HalfVectors.Two112);
                Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sums), scale, Vector512.Load(a)).Store(a);
            }
        }
        for (int t = 0; t < n; t++)
        {
            Vector512.Load(acc + t * 16).Store(y + t * yStride);
        }
    }

    // unsigned nibbles times 4 activations (one int32) in every lane: two int16 pair sums per lane
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Mad(Vector512<byte> nibbles, int quad) => Avx512BW.MultiplyAddAdjacent(nibbles, Vector512.Create(quad).AsSByte());
}

/// <summary>
/// Input rows quantized to Q8_0 blocks, stored block-major so one block of every token lies together:
/// block b of token t has its 32 values at Q + (b * Tokens + t) * 32 (and as int16 at Wide + the same),
/// its scale at D[b * Tokens + t] and the sum of its values at S[b * Tokens + t].
/// </summary>
public readonly unsafe struct Q8Blocks(sbyte* q, short* wide, float* d, int* s, int tokens)
{
    public sbyte* Q { get; } = q;

    /// <summary>The same values widened to int16, at Wide + (b * Tokens + t) * 32 (null when <see cref="Native.VnniKernels"/> run: they read Q).</summary>
    public short* Wide { get; } = wide;
    public float* D { get; } = d;
    public int* S { get; } = s;
    public int Tokens { get; } = tokens;
}
