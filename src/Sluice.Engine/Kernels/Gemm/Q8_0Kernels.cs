using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// Q8_0 weights times Q8_0-quantized activations with integer block dot products, for any number of
/// tokens, following the same recipe as <see cref="Q4_0Kernels"/> (exact block sums, then
/// acc = fma((float)sumi, d_w[b] * d_x[b], acc) over the blocks in order). Both operands are signed, and
/// vpmaddubsw needs one unsigned operand without overflowing its int16 pair sums (2 * 255 * 127 would),
/// so the AVX-512 kernel widens both to int16 and multiplies with vpmaddwd: weights widened once per
/// block for every token, activations widened once per token (<see cref="Q8Blocks.Wide"/>). Packed
/// groups (<see cref="PackedGroups"/>) hold per block the 16 scales, then for each quarter of the block
/// (8 values) and each 4 rows, those rows' 8 bytes.
/// </summary>
internal static unsafe class Q8_0Kernels
{
    private const int BlockBytes = 34;

    /// <summary>Bytes one 16-row group takes per block once packed: 16 scales, then 16 rows of 32 bytes.</summary>
    public const int PackedBlockBytes = 32 + 16 * 32;


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

    /// <summary>Packs group g of a Q8_0 matrix of at least 16 rows; false if a scale is an infinity or NaN.</summary>
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
            for (int quarter = 0; quarter < 4; quarter++)
            {
                for (int i = 0; i < 16; i++)
                {
                    *(ulong*)(block + 32 + quarter * 128 + i * 8) = *(ulong*)(w + (first + i) * rb + b * BlockBytes + 2 + quarter * 8);
                }
            }
        }
        return true;
    }

    /// <summary>
    /// One packed 16-row group times every token of <paramref name="x"/>: y[t * yStride + i] for rows
    /// i in 0..15. <paramref name="acc"/> is scratch for 16 floats per token. AVX-512 only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows16(byte* group, int blocks, in Q8Blocks x, float* acc, float* y, long yStride)
    {
        int n = x.Tokens;
        new Span<float>(acc, n * 16).Clear();
        short* xw = x.Wide;
        float* xd = x.D;
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            var dw = PackedGroups.Scales(p);
            sbyte* q = (sbyte*)p + 32;
            // w[quarter][4 rows]: 8 values of 4 rows widened to int16, one row per 128-bit lane
            var w00 = Wide(q); var w01 = Wide(q + 32); var w02 = Wide(q + 64); var w03 = Wide(q + 96);
            var w10 = Wide(q + 128); var w11 = Wide(q + 160); var w12 = Wide(q + 192); var w13 = Wide(q + 224);
            var w20 = Wide(q + 256); var w21 = Wide(q + 288); var w22 = Wide(q + 320); var w23 = Wide(q + 352);
            var w30 = Wide(q + 384); var w31 = Wide(q + 416); var w32 = Wide(q + 448); var w33 = Wide(q + 480);
            long bo = (long)b * n;
            for (int t = 0; t < n; t++)
            {
                short* v = xw + (bo + t) * 32;
                var x0 = Avx512F.BroadcastVector128ToVector512((int*)v).AsInt16();
                var x1 = Avx512F.BroadcastVector128ToVector512((int*)(v + 8)).AsInt16();
                var x2 = Avx512F.BroadcastVector128ToVector512((int*)(v + 16)).AsInt16();
                var x3 = Avx512F.BroadcastVector128ToVector512((int*)(v + 24)).AsInt16();
                var d0 = Mad(w00, x0) + Mad(w10, x1) + Mad(w20, x2) + Mad(w30, x3);
                var d1 = Mad(w01, x0) + Mad(w11, x1) + Mad(w21, x2) + Mad(w31, x3);
                var d2 = Mad(w02, x0) + Mad(w12, x1) + Mad(w22, x2) + Mad(w32, x3);
                var d3 = Mad(w03, x0) + Mad(w13, x1) + Mad(w23, x2) + Mad(w33, x3);
                var sums = PackedGroups.Reduce(d0, d1, d2, d3);
                float* a = acc + t * 16;
                var scale = dw * Vector512.Create(xd[bo + t] * HalfVectors.Two112);
                Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sums), scale, Vector512.Load(a)).Store(a);
            }
        }
        PackedGroups.StoreRows(acc, n, y, yStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Wide(sbyte* p) => Avx512BW.ConvertToVector512Int16(Vector256.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Mad(Vector512<short> w, Vector512<short> x) => Avx512BW.MultiplyAddAdjacent(w, x);
}
