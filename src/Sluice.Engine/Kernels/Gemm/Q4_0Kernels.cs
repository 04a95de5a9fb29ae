using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
/// groups (<see cref="PackedGroups"/>): nibbles against the token's 16 low / 16 high activation bytes
/// with vpmaddubsw (pairs of at most 2 * 15 * 127, so int16 sums of low and high cannot overflow), then
/// vpmaddwd. On Zen 4, where the float GEMM tops out at one 16-wide FMA per cycle, this does about 1.7x
/// the multiply-adds per cycle (the per-block float work is shared by 512 products).
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


    /// <summary>
    /// Packs group g of a Q4_0 matrix of at least 16 rows, block by block: the 16 scales in the
    /// order the kernel's reduced lanes hold the rows, then the 16 rows' packed nibbles, so decode reads
    /// one sequential stream. Group g holds rows 16g..16g+15; a last partial group holds the last 16 rows.
    /// Returns false (leaving <paramref name="dst"/> partly written) if a scale is an infinity or NaN:
    /// the kernel widens scales in a way that is exact only for finite halves.
    /// </summary>
    public static bool PackGroup(byte* w, long rb, int rows, int blocks, int g, byte* dst)
    {
        int first = PackedGroups.FirstRow(g, rows);
        for (int b = 0; b < blocks; b++)
        {
            byte* block = dst + ((long)g * blocks + b) * PackedBlockBytes;
            if (!PackedGroups.PackScales(w, rb, first, (long)b * BlockBytes, (ushort*)block))
            {
                return false;
            }
            for (int i = 0; i < 16; i++)
            {
                Vector128.Load(w + (first + i) * rb + b * BlockBytes + 2).Store(block + 32 + 16 * i);
            }
        }
        return true;
    }

    /// <summary>
    /// One packed 16-row group (<see cref="PackGroup"/>) times every token of <paramref name="x"/>:
    /// y[t * yStride + i] for rows i in 0..15. <paramref name="acc"/> is scratch for 16 floats per token.
    /// AVX-512 only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows16(byte* group, int blocks, in Q8Blocks x, float* acc, float* y, long yStride)
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
            var dw = PackedGroups.Scales(p);
            var z0 = Vector512.Load(p + 32);
            var z1 = Vector512.Load(p + 96);
            var z2 = Vector512.Load(p + 160);
            var z3 = Vector512.Load(p + 224);
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
                sbyte* q = xq + (bo + t) * 32;
                var xl = Avx512F.BroadcastVector128ToVector512((int*)q).AsSByte();
                var xh = Avx512F.BroadcastVector128ToVector512((int*)(q + 16)).AsSByte();
                var d0 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(lo0, xl) + Avx512BW.MultiplyAddAdjacent(hi0, xh), ones);
                var d1 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(lo1, xl) + Avx512BW.MultiplyAddAdjacent(hi1, xh), ones);
                var d2 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(lo2, xl) + Avx512BW.MultiplyAddAdjacent(hi2, xh), ones);
                var d3 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(lo3, xl) + Avx512BW.MultiplyAddAdjacent(hi3, xh), ones);
                var sums = PackedGroups.Reduce(d0, d1, d2, d3) - Vector512.Create(xs[bo + t] << 3);
                float* a = acc + t * 16;
                var scale = dw * Vector512.Create(xd[bo + t] * HalfVectors.Two112);
                Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sums), scale, Vector512.Load(a)).Store(a);
            }
        }
        PackedGroups.StoreRows(acc, n, y, yStride);
    }
}

/// <summary>
/// Input rows quantized to Q8_0 blocks, stored block-major so one block of every token lies together:
/// block b of token t has its 32 values at Q + (b * Tokens + t) * 32 (and as int16 at Wide + the same),
/// its scale at D[b * Tokens + t] and the sum of its values at S[b * Tokens + t].
/// </summary>
public readonly unsafe struct Q8Blocks(sbyte* q, short* wide, float* d, int* s, int tokens)
{
    public sbyte* Q { get; } = q;

    /// <summary>The same values widened to int16, at Wide + (b * Tokens + t) * 32.</summary>
    public short* Wide { get; } = wide;
    public float* D { get; } = d;
    public int* S { get; } = s;
    public int Tokens { get; } = tokens;
}
