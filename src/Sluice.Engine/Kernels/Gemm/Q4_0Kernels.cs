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
/// is fixed, which keeps results independent of the batch.
///
/// The AVX-512 kernel takes 16 rows at once: a 512-bit register holds 16 bytes from each of 4 rows,
/// vpmaddubsw/vpmaddwd against the token's 16 activation bytes broadcast to every 128-bit lane leaves
/// 4 partial sums per row, and two shuffle-add rounds put the 16 rows' block sums in one register,
/// so the float chain runs for 16 rows in one FMA per block. Weights are unpacked once per block for
/// every token of the batch. On Zen 4 the float GEMM tops out at one 16-wide FMA per cycle; this
/// reaches more because the per-block float work is shared by 512 products.
/// </summary>
internal static unsafe class Q4_0Kernels
{
    private const int BlockBytes = 18;

    // lane (128-bit lane i, dword p) of the reduced sums holds row 4p + i
    private static ReadOnlySpan<int> LaneOfRow => [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];

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

    /// <summary>
    /// Rows 0..15 (<paramref name="rb"/> bytes apart) times every token of <paramref name="x"/>:
    /// y[t * yStride + i]. <paramref name="acc"/> is scratch for 16 floats per token. AVX-512 only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows16(byte* w, long rb, int blocks, in Q8Blocks x, float* acc, float* y, long yStride)
    {
        int n = x.Tokens;
        new Span<float>(acc, n * 16).Clear();
        sbyte* xq = x.Q;
        float* xd = x.D;
        int* xs = x.S;
        // byte offsets of the rows in reduced-lane order, for gathering the 16 block scales
        int r = (int)rb;
        var scaleIndexLo = Vector256.Create(0, 4 * r, 8 * r, 12 * r, r, 5 * r, 9 * r, 13 * r);
        var scaleIndexHi = Vector256.Create(2 * r, 6 * r, 10 * r, 14 * r, 3 * r, 7 * r, 11 * r, 15 * r);
        var low = Vector512.Create((byte)15);
        var ones = Vector512<short>.One;
        byte* w4 = w + 4 * rb, w8 = w + 8 * rb, w12 = w + 12 * rb;
        for (int b = 0; b < blocks; b++)
        {
            int o = b * BlockBytes;
            if ((b & 1) == 0)
            {
                Prefetch16(w + o, rb);
            }
            var z0 = Load4(w + o + 2, rb);
            var z1 = Load4(w4 + o + 2, rb);
            var z2 = Load4(w8 + o + 2, rb);
            var z3 = Load4(w12 + o + 2, rb);
            var lo0 = z0 & low;
            var lo1 = z1 & low;
            var lo2 = z2 & low;
            var lo3 = z3 & low;
            var hi0 = (z0.AsUInt16() >>> 4).AsByte() & low;
            var hi1 = (z1.AsUInt16() >>> 4).AsByte() & low;
            var hi2 = (z2.AsUInt16() >>> 4).AsByte() & low;
            var hi3 = (z3.AsUInt16() >>> 4).AsByte() & low;
            // (no 512-bit gather in .NET: two of 8)
            var gathered = Vector512.Create(Avx2.GatherVector256((int*)(w + o), scaleIndexLo, 1), Avx2.GatherVector256((int*)(w + o), scaleIndexHi, 1));
            var halves = Avx512F.ConvertToVector256Int16(gathered);
            var dw = HalfVectors.ToFloat(halves.AsUInt16());
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
                var sums = PairSums(PairSums(d0, d1), PairSums(d2, d3)) - Vector512.Create(xs[bo + t] << 3);
                float* a = acc + t * 16;
                Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sums), dw * Vector512.Create(xd[bo + t]), Vector512.Load(a)).Store(a);
            }
        }
        var order = Vector512.Create(LaneOfRow);
        for (int t = 0; t < n; t++)
        {
            Avx512F.PermuteVar16x32(Vector512.Load(acc + t * 16), order).Store(y + t * yStride);
        }
    }

    // per 128-bit lane: [a0 + a1, a2 + a3, b0 + b1, b2 + b3]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> PairSums(Vector512<int> a, Vector512<int> b) =>
        Avx512F.Shuffle(a.AsSingle(), b.AsSingle(), 0b10_00_10_00).AsInt32() + Avx512F.Shuffle(a.AsSingle(), b.AsSingle(), 0b11_01_11_01).AsInt32();

    // 16 bytes from each of 4 rows, one row per 128-bit lane
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Load4(byte* p, long rb)
    {
        return Vector512.Create(
            Vector256.Create(Vector128.Load(p), Vector128.Load(p + rb)),
            Vector256.Create(Vector128.Load(p + 2 * rb), Vector128.Load(p + 3 * rb)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch16(byte* p, long rb)
    {
        DecodeKernels.Prefetch(p, rb);
        DecodeKernels.Prefetch(p + 4 * rb, rb);
        DecodeKernels.Prefetch(p + 8 * rb, rb);
        DecodeKernels.Prefetch(p + 12 * rb, rb);
    }
}

/// <summary>
/// Input rows quantized to Q8_0 blocks, stored block-major so one block of every token lies together:
/// block b of token t has its 32 values at Q + (b * Tokens + t) * 32, its scale at D[b * Tokens + t]
/// and the sum of its values at S[b * Tokens + t].
/// </summary>
public readonly unsafe struct Q8Blocks(sbyte* q, float* d, int* s, int tokens)
{
    public sbyte* Q { get; } = q;
    public float* D { get; } = d;
    public int* S { get; } = s;
    public int Tokens { get; } = tokens;
}
