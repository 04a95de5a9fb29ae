using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Kernels.Native;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// Q8_0 weights times Q8_0-quantized activations with integer block dot products, for any number of
/// tokens, following the same recipe as <see cref="Q4_0Kernels"/> (exact block sums, then
/// acc = fma((float)sumi, d_w[b] * d_x[b], acc) over the blocks in order). Both operands are signed, and
/// vpmaddubsw needs one unsigned operand without overflowing its int16 pair sums (2 * 255 * 127 would),
/// so the AVX-512 kernel widens both to int16 and multiplies with vpmaddwd: weights widened once per
/// block for every token, activations widened once per token (<see cref="Q8Blocks.Wide"/>). Rows sit in
/// the 32-bit lanes: packed groups hold per block the 16 scales in row order, then for each pair of
/// values (16 pairs) the 16 rows' two bytes, so one vpmaddwd against a pair of activations broadcast to
/// every lane adds two products to each of the 16 rows, and the block sums come out with plain adds and
/// no horizontal reduction (about 1.3x the rate of rows spread over 128-bit lanes, measured in cache).
/// Where <see cref="VnniKernels"/> run, groups are packed for them instead (<see cref="PackGroup"/>) and Rows16 hands over.
/// </summary>
internal static unsafe class Q8_0Kernels
{
    private const int BlockBytes = 34;

    /// <summary>Bytes one 16-row group takes per block once packed: 16 scales, then 16 rows of 32 bytes.</summary>
    public const int PackedBlockBytes = 32 + 16 * 32;

    /// <summary>Scratch floats <see cref="Rows16"/> needs for <paramref name="tokens"/> tokens: 16 sums per token.</summary>
    public static long ScratchFloats(int tokens) => 16L * tokens;

    /// <summary>The recipe for one row and one token, one block at a time (any instruction set).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(byte* row, int blocks, in Q8Blocks x, int t)
    {
        float acc = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* blk = row + b * BlockBytes;
            long o = (long)b * x.Tokens + t;
            int sumi = BlockSum((sbyte*)blk + 2, x.Q + o * 32);
            acc = MathF.FusedMultiplyAdd(sumi, HalfTable.ToFloat(blk) * x.D[o], acc);
        }
        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BlockSum(sbyte* w, sbyte* q)
    {
        if (Simd.Use256)
        {
            // |w| * (q with w's sign): at most 2 * 128 * 127 per pair
            var wv = Vector256.Load(w);
            return Vector256.Sum(Simd.DotU8S8(Avx2.Abs(wv), Avx2.Sign(Vector256.Load(q), wv)));
        }
        int s = 0;
        for (int i = 0; i < 32; i++)
        {
            s += w[i] * q[i];
        }
        return s;
    }

    /// <summary>
    /// Packs group g of a Q8_0 matrix of at least 16 rows; false if a scale is an infinity or NaN. For
    /// <see cref="VnniKernels"/> the rows' 4-byte slices lie side by side and each value is stored as w + 128
    /// (unsigned, as vpdpbusd multiplies), otherwise their pairs, as they are.
    /// </summary>
    public static bool PackGroup(byte* w, long rb, int rows, int blocks, int g, byte* dst)
    {
        if (!VnniKernels.Available)
        {
            return PackedGroups.PackRowsInLanes(w, rb, rows, blocks, g, dst, BlockBytes, 32, 2);
        }
        if (!PackedGroups.PackRowsInLanes(w, rb, rows, blocks, g, dst, BlockBytes, 32, 4))
        {
            return false;
        }
        var flip = Vector512.Create((byte)0x80);
        for (int b = 0; b < blocks; b++)
        {
            byte* q = dst + ((long)g * blocks + b) * PackedBlockBytes + 32;
            for (int i = 0; i < 512; i += 64)
            {
                (Vector512.Load(q + i) ^ flip).Store(q + i);
            }
        }
        return true;
    }

    /// <summary>
    /// One packed 16-row group times every token of <paramref name="x"/>: y[t * yStride + i] for rows
    /// i in 0..15. <paramref name="acc"/> is scratch for 16 floats per token. AVX-512 or AVX2.
    /// </summary>
    public static void Rows16(byte* group, int blocks, in Q8Blocks x, float* acc, float* y, long yStride)
    {
        if (VnniKernels.Available)
        {
            VnniKernels.Q8_0Rows16(group, blocks, x, acc, y, yStride);
        }
        else if (Simd.Use512)
        {
            Rows16Avx512(group, blocks, x, acc, y, yStride);
        }
        else
        {
            Rows16Avx2(group, blocks, x, acc, y, yStride);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows16Avx512(byte* group, int blocks, in Q8Blocks x, float* acc, float* y, long yStride)
    {
        int n = x.Tokens;
        new Span<float>(acc, n * 16).Clear();
        short* xw = x.Wide;
        float* xd = x.D;
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            if (n > 1)
            {
                // several tokens: see PackedGroups.PrefetchAhead (one token: no clear gain, so none, as before)
                PackedGroups.PrefetchAhead(p, PackedBlockBytes);
            }
            var dw = PackedGroups.Scales(p);
            sbyte* q = (sbyte*)p + 32;
            // w[pair]: the 16 rows' values 2 * pair and 2 * pair + 1, widened to int16
            var w0 = Wide(q); var w1 = Wide(q + 32); var w2 = Wide(q + 64); var w3 = Wide(q + 96);
            var w4 = Wide(q + 128); var w5 = Wide(q + 160); var w6 = Wide(q + 192); var w7 = Wide(q + 224);
            var w8 = Wide(q + 256); var w9 = Wide(q + 288); var w10 = Wide(q + 320); var w11 = Wide(q + 352);
            var w12 = Wide(q + 384); var w13 = Wide(q + 416); var w14 = Wide(q + 448); var w15 = Wide(q + 480);
            long bo = (long)b * n;
            for (int t = 0; t < n; t++)
            {
                int* v = (int*)(xw + (bo + t) * 32);
                var s0 = Mad(w0, v[0]) + Mad(w1, v[1]);
                var s1 = Mad(w2, v[2]) + Mad(w3, v[3]);
                var s2 = Mad(w4, v[4]) + Mad(w5, v[5]);
                var s3 = Mad(w6, v[6]) + Mad(w7, v[7]);
                s0 += Mad(w8, v[8]) + Mad(w9, v[9]);
                s1 += Mad(w10, v[10]) + Mad(w11, v[11]);
                s2 += Mad(w12, v[12]) + Mad(w13, v[13]);
                s3 += Mad(w14, v[14]) + Mad(w15, v[15]);
                float* a = acc + t * 16;
                var scale = dw * Vector512.Create(xd[bo + t] * HalfVectors.Two112);
                Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(s0 + s1 + (s2 + s3)), scale, Vector512.Load(a)).Store(a);
            }
        }
        for (int t = 0; t < n; t++)
        {
            Vector512.Load(acc + t * 16).Store(y + t * yStride);
        }
    }

    /// <summary>
    /// The same layout on AVX2. From 4 tokens, per block both 8-row halves' 16 pair slices are widened to int16 once
    /// (into <c>wide</c>, 1 KiB in L1) for every token, and 4 tokens at a time take them: each pair of activations
    /// broadcast serves both halves, and each staged slice is loaded once for the 4 tokens, so a vpmaddwd costs 0.75
    /// loads instead of 2 (the kernel was load-bound). Decode (fewer than 4 tokens) widens straight from the packed bytes,
    /// one half at a time. Same exact block sums and the same float chain per row as the AVX-512 kernel, so the results
    /// are bit-identical.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows16Avx2(byte* group, int blocks, in Q8Blocks x, float* acc, float* y, long yStride)
    {
        int n = x.Tokens;
        new Span<float>(acc, n * 16).Clear();
        short* xw = x.Wide;
        float* xd = x.D;
        short* wide = stackalloc short[2 * 16 * 16];
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            long bo = (long)b * n;
            // the rows' scales unscaled once (times 2^112 is exact), so a token's scale is one multiply by its d broadcast
            // from memory: the same single rounding of d_w * d_x as the recipe's
            var d0 = HalfVectors.FiniteToScaledFloat(Vector128.Load((short*)p)) * Vector256.Create(HalfVectors.Two112);
            var d1 = HalfVectors.FiniteToScaledFloat(Vector128.Load((short*)p + 8)) * Vector256.Create(HalfVectors.Two112);
            sbyte* q = (sbyte*)p + 32;
            // the matrix streams (without prefetching, decode's pattern alone left a core at ~6 GB/s)
            PackedGroups.PrefetchAhead(p, PackedBlockBytes);
            if (n < 4)
            {
                // too few tokens to repay staging: widen straight from the packed bytes
                HalfTokens(new PackedPairs(q), xw + bo * 32, xd + bo, d0, acc, n);
                HalfTokens(new PackedPairs(q + 16), xw + bo * 32, xd + bo, d1, acc + 8, n);
                continue;
            }
            // wide: half h's pair slice at wide + h * 256 + pair * 16
            for (int pair = 0; pair < 16; pair++)
            {
                Avx2.ConvertToVector256Int16(Vector128.Load(q + pair * 32)).Store(wide + pair * 16);
                Avx2.ConvertToVector256Int16(Vector128.Load(q + pair * 32 + 16)).Store(wide + 256 + pair * 16);
            }
            int done = Tokens4(wide, xw + bo * 32, xd + bo, d0, d1, acc, n);
            HalfTokens(new StagedPairs(wide), xw + (bo + done) * 32, xd + bo + done, d0, acc + done * 16, n - done);
            HalfTokens(new StagedPairs(wide + 256), xw + (bo + done) * 32, xd + bo + done, d1, acc + 8 + done * 16, n - done);
        }
        for (int t = 0; t < n; t++)
        {
            Vector256.Load(acc + t * 16).Store(y + t * yStride);
            Vector256.Load(acc + t * 16 + 8).Store(y + t * yStride + 8);
        }
    }

    // one 8-row half's block (16 pairs x 8 rows, widened to int16 by T) times each token's block: acc[t * 16 + row] += ...
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void HalfTokens<T>(T w, short* xw, float* xd, Vector256<float> dw, float* acc, int n) where T : struct, IHalfPairs
    {
        for (int t = 0; t < n; t++)
        {
            int* v = (int*)(xw + (long)t * 32);
            var s0 = Mad(w, 0, v) + Mad(w, 1, v);
            var s1 = Mad(w, 2, v) + Mad(w, 3, v);
            var s2 = Mad(w, 4, v) + Mad(w, 5, v);
            var s3 = Mad(w, 6, v) + Mad(w, 7, v);
            s0 += Mad(w, 8, v) + Mad(w, 9, v);
            s1 += Mad(w, 10, v) + Mad(w, 11, v);
            s2 += Mad(w, 12, v) + Mad(w, 13, v);
            s3 += Mad(w, 14, v) + Mad(w, 15, v);
            float* a = acc + t * 16;
            var scale = dw * Avx.BroadcastScalarToVector256(xd + t);
            Fma.MultiplyAdd(Avx.ConvertToVector256Single(s0 + s1 + (s2 + s3)), scale, Vector256.Load(a)).Store(a);
        }
    }

    // both staged halves (16 rows) times 4 tokens at a time, 8 int32 accumulators: returns the tokens done (a multiple of 4)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Tokens4(short* wide, short* xw, float* xd, Vector256<float> d0, Vector256<float> d1, float* acc, int n)
    {
        int t = 0;
        for (; t + 4 <= n; t += 4)
        {
            int* v = (int*)(xw + (long)t * 32);
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<int> b0 = default, b1 = default, b2 = default, b3 = default;
            for (int pair = 0; pair < 16; pair += 2)
            {
                Step8(Vector256.Load(wide + pair * 16), Vector256.Load(wide + 256 + pair * 16), v + pair, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
                Step8(Vector256.Load(wide + pair * 16 + 16), Vector256.Load(wide + 256 + pair * 16 + 16), v + pair + 1, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
            }
            float* a = acc + t * 16;
            float* d = xd + t;
            var x0 = Avx.BroadcastScalarToVector256(d);
            var x1 = Avx.BroadcastScalarToVector256(d + 1);
            var x2 = Avx.BroadcastScalarToVector256(d + 2);
            var x3 = Avx.BroadcastScalarToVector256(d + 3);
            Fma.MultiplyAdd(Avx.ConvertToVector256Single(a0), d0 * x0, Vector256.Load(a)).Store(a);
            Fma.MultiplyAdd(Avx.ConvertToVector256Single(b0), d1 * x0, Vector256.Load(a + 8)).Store(a + 8);
            Fma.MultiplyAdd(Avx.ConvertToVector256Single(a1), d0 * x1, Vector256.Load(a + 16)).Store(a + 16);
            Fma.MultiplyAdd(Avx.ConvertToVector256Single(b1), d1 * x1, Vector256.Load(a + 24)).Store(a + 24);
            Fma.MultiplyAdd(Avx.ConvertToVector256Single(a2), d0 * x2, Vector256.Load(a + 32)).Store(a + 32);
            Fma.MultiplyAdd(Avx.ConvertToVector256Single(b2), d1 * x2, Vector256.Load(a + 40)).Store(a + 40);
            Fma.MultiplyAdd(Avx.ConvertToVector256Single(a3), d0 * x3, Vector256.Load(a + 48)).Store(a + 48);
            Fma.MultiplyAdd(Avx.ConvertToVector256Single(b3), d1 * x3, Vector256.Load(a + 56)).Store(a + 56);
        }
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step8(Vector256<short> w0, Vector256<short> w1, int* v, ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3,
        ref Vector256<int> b0, ref Vector256<int> b1, ref Vector256<int> b2, ref Vector256<int> b3)
    {
        var x = Vector256.Create(v[0]).AsInt16();
        a0 += Avx2.MultiplyAddAdjacent(w0, x);
        b0 += Avx2.MultiplyAddAdjacent(w1, x);
        x = Vector256.Create(v[16]).AsInt16();
        a1 += Avx2.MultiplyAddAdjacent(w0, x);
        b1 += Avx2.MultiplyAddAdjacent(w1, x);
        x = Vector256.Create(v[32]).AsInt16();
        a2 += Avx2.MultiplyAddAdjacent(w0, x);
        b2 += Avx2.MultiplyAddAdjacent(w1, x);
        x = Vector256.Create(v[48]).AsInt16();
        a3 += Avx2.MultiplyAddAdjacent(w0, x);
        b3 += Avx2.MultiplyAddAdjacent(w1, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Mad<T>(T w, int pair, int* v) where T : struct, IHalfPairs =>
        Avx2.MultiplyAddAdjacent(w.Pair(pair), Vector256.Create(v[pair]).AsInt16());

    /// <summary>Where an 8-row half's pairs come from, as int16: staged once per block, or widened from the packed bytes.</summary>
    private interface IHalfPairs
    {
        Vector256<short> Pair(int pair);
    }

    private readonly struct StagedPairs(short* wide) : IHalfPairs
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<short> Pair(int pair) => Vector256.Load(wide + pair * 16);
    }

    private readonly struct PackedPairs(sbyte* q) : IHalfPairs
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<short> Pair(int pair) => Avx2.ConvertToVector256Int16(Vector128.Load(q + pair * 32));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Wide(sbyte* p) => Avx512BW.ConvertToVector512Int16(Vector256.Load(p));

    // w times a pair of activations (one int32 holding two int16) in every lane
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Mad(Vector512<short> w, int pair) => Avx512BW.MultiplyAddAdjacent(w, Vector512.Create(pair).AsInt16());
}
