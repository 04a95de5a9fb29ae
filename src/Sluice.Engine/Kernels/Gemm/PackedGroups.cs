using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// What the integer block-dot kernels (<see cref="Q4_0Kernels"/>, <see cref="Q8_0Kernels"/>,
/// <see cref="Q4_KKernels"/>, <see cref="Q6_KKernels"/>) share. They
/// take 16 weight rows at once: a 512-bit register holds the same slice of 4 rows, one row per 128-bit
/// lane; multiply-adds against the token's values broadcast to every 128-bit lane leave 4 partial sums
/// per row, and two shuffle-add rounds (<see cref="Reduce"/>) put the 16 rows' exact block sums in one
/// register, lane (128-bit lane i, dword p) holding row 4p + i. The float chain then runs for 16 rows
/// in one FMA per block. Matrices are repacked once into groups of 16 rows, block by block, with the
/// 16 block scales first in that lane order, so decode reads one sequential stream. (Q4_0 and Q8_0, whose
/// multiply-adds leave 2 products per 16-bit or 32-bit lane, keep one row per 32-bit lane instead, with
/// the same slice of 16 rows in a register, and need no reduction.)
/// </summary>
internal static unsafe class PackedGroups
{
    /// <summary>How far ahead decode prefetches in the packed stream: 16 KiB, into L2 (as the float decode kernels do).</summary>
    public const int PrefetchBytes = 16384;

    /// <summary>
    /// A pass streams a packed matrix once: fetch the lines <see cref="PrefetchBytes"/> past the block into L2. Fetching the
    /// next block or four into L1 (prefetcht0) kept too few lines in flight, since each holds one of the core's few L1 miss
    /// buffers until DRAM answers: on an Intel Xeon (AVX2 class), qwen2.5-0.5b Q4_0 decode went from 66% to 80% of the
    /// measured bandwidth, Q4_K_M from 63% to 68%, Q8_0 from 81% to 84%. The AVX2 kernels prefetch whatever the token
    /// count: with 16 tokens (a batched decode step) a matrix larger than the caches was read at the memory's latency, not
    /// its bandwidth (AMD EPYC, 65536 x 2048, 2 threads, GMAC/s without / with: Q4_K 150 / 284, Q6_K 106 / 203, Q4_0
    /// 199 / 257, Q8_0 125 / 161; with 128 tokens Q4_K 282 / 302, Q6_K 214 / 248, Q4_0 and Q8_0 the same). The AVX-512
    /// C# kernels (no VNNI) likewise with several tokens (16 tokens: Q4_K 244-251 / 390-400, Q6_K 197-201 / 315-319, Q4_0
    /// 247-249 / 488-493, Q8_0 141-148 / 255-259) and Q4_0 at one token too (90-93 / 111-171).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PrefetchAhead(byte* block, int blockBytes) => PrefetchAheadPart(block, blockBytes, 0, 1);

    /// <summary>
    /// The same for one of <paramref name="parts"/> equal slices of the block's lines, for a kernel that reads a block in
    /// that many steps and issues each slice's prefetches with its step. The one-token K-quant passes read a matrix
    /// larger than the caches with 2 threads at little more than one thread's rate in most runs when they issued all of
    /// a super-block's ~54 (Q6_K) or ~36 (Q4_K) prefetches at once, or none (AMD EPYC, 131072 x 2048, GMAC/s, AVX2
    /// class: Q6_K 38-41 at once / 56-80 spread, Q4_K median 62 / 84; AVX-512 C#: Q6_K 32-45 none / 53-93, Q4_K 63-104
    /// / 79-134; VNNI: Q6_K 38-42 / 54-84, Q4_K 50-100 / 70-102). In the caches the spread prefetch costs the AVX-512
    /// passes time (one thread, 4096 x 2048, C#: Q6_K 60 / 50, Q4_K 127 / 92; VNNI Q6_K 75 / 69, Q4_K 130 / 106) and
    /// helps the AVX2 ones (Q6_K 36 / 40, Q4_K 70 / 78); a model's matrices stream from memory.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PrefetchAheadPart(byte* block, int blockBytes, int part, int parts)
    {
        int lines = (blockBytes + 63) / 64;
        byte* ahead = block + PrefetchBytes;
        int end = (part + 1) * lines / parts * 64;
        for (int line = part * lines / parts * 64; line < end; line += 64)
        {
            Sse.Prefetch1(ahead + line);
        }
    }

    /// <summary>Packs group <paramref name="g"/> of a matrix into <paramref name="dst"/>; false if the matrix cannot be packed.</summary>
    public delegate bool GroupPacker(byte* w, long rb, int rows, int blocks, int g, byte* dst);

    /// <summary>Bytes of a packed matrix: one group per 16 rows, plus one for the last 16 rows when rows % 16 != 0.</summary>
    public static long Bytes(int packedBlockBytes, int rows, int blocks) => (long)Groups(rows) * blocks * packedBlockBytes;

    /// <summary>Packs every group, spread over the .NET thread pool (the kernel workers are idle while a matrix is packed).</summary>
    public static bool PackAll(GroupPacker pack, byte* w, long rb, int rows, int blocks, byte* dst)
    {
        nint source = (nint)w, target = (nint)dst;
        int failed = 0;
        Parallel.For(0, Groups(rows), g =>
        {
            if (!pack((byte*)source, rb, rows, blocks, g, (byte*)target))
            {
                Volatile.Write(ref failed, 1);
            }
        });
        return failed == 0;
    }

    /// <summary>
    /// Packs group g of a matrix of 32-value blocks (a half scale, then <paramref name="quantBytes"/> bytes)
    /// for a kernel that keeps one row per 32-bit lane: per block, the 16 scales in row order, then for
    /// each <paramref name="slice"/>-byte slice of the quants the 16 rows' slices side by side (Q8_0: pairs
    /// of values, Q4_0: 4 bytes of nibbles; <paramref name="slice"/> is 2 or 4). False if a scale is an infinity or NaN.
    /// </summary>
    public static bool PackRowsInLanes(byte* w, long rb, int rows, int blocks, int g, byte* dst, int blockBytes, int quantBytes, int slice)
    {
        int first = FirstRow(g, rows);
        int packedBlockBytes = 32 + 16 * quantBytes;
        for (int b = 0; b < blocks; b++)
        {
            byte* block = dst + ((long)g * blocks + b) * packedBlockBytes;
            if (!PackScales(w, rb, first, (long)b * blockBytes, (ushort*)block, rowOrder: true))
            {
                return false;
            }
            for (int r = 0; r < 16; r++)
            {
                byte* quants = w + (first + r) * rb + (long)b * blockBytes + 2;
                byte* target = block + 32 + r * slice;
                for (int i = 0; i < quantBytes / slice; i++)
                {
                    if (slice == 2)
                    {
                        *(ushort*)(target + i * 32) = *(ushort*)(quants + i * 2);
                    }
                    else
                    {
                        *(uint*)(target + i * 64) = *(uint*)(quants + i * 4);
                    }
                }
            }
        }
        return true;
    }

    /// <summary>For output row r, the reduced lane holding it.</summary>
    public static ReadOnlySpan<int> LaneOfRow => [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];

    /// <summary>The row (0..15 within a group) a reduced lane holds: 128-bit lane i, dword p hold row 4p + i.</summary>
    public static int RowOfLane(int lane) => 4 * (lane & 3) + (lane >> 2);

    /// <summary>Groups of a matrix: one per 16 rows, plus one holding the last 16 rows when rows % 16 != 0.</summary>
    public static int Groups(int rows) => (rows + 15) / 16;

    /// <summary>The first row group <paramref name="g"/> holds.</summary>
    public static int FirstRow(int g, int rows) => Math.Min(16 * g, rows - 16);

    /// <summary>
    /// Writes the 16 half scales of the block at <paramref name="blockOffset"/> in the rows of the group starting at row
    /// <paramref name="first"/> (the scale is a block's first two bytes) in lane order (or, with
    /// <paramref name="rowOrder"/>, in row order, for a kernel that keeps rows in 32-bit lanes). False if one is
    /// an infinity or NaN: the kernels widen scales in a way exact only for finite halves.
    /// </summary>
    public static bool PackScales(byte* w, long rb, int first, long blockOffset, ushort* dst, bool rowOrder = false)
    {
        for (int lane = 0; lane < 16; lane++)
        {
            ushort h = *(ushort*)(w + (first + (rowOrder ? lane : RowOfLane(lane))) * rb + blockOffset);
            if ((h & 0x7C00) == 0x7C00)
            {
                return false;
            }
            dst[lane] = h;
        }
        return true;
    }

    /// <summary>
    /// The 16 packed scales as w * 2^-112 (exact for finite halves, subnormals included). Multiplied by an
    /// activation scale times 2^112 (exact: activation scales are halves) each product equals the
    /// product of the true scales, rounded once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Scales(byte* p) => HalfVectors.FiniteToScaledFloat(Vector256.Load((short*)p));

    /// <summary>Per 128-bit lane, four partial sums of each of four row registers reduced to one per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Reduce(Vector512<int> d0, Vector512<int> d1, Vector512<int> d2, Vector512<int> d3) =>
        PairSums(PairSums(d0, d1), PairSums(d2, d3));

    // per 128-bit lane: [a0 + a1, a2 + a3, b0 + b1, b2 + b3]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> PairSums(Vector512<int> a, Vector512<int> b) =>
        Avx512F.Shuffle(a.AsSingle(), b.AsSingle(), 0b10_00_10_00).AsInt32() + Avx512F.Shuffle(a.AsSingle(), b.AsSingle(), 0b11_01_11_01).AsInt32();

    /// <summary>acc (16 floats per token, reduced-lane order) to y[t * yStride + row].</summary>
    public static void StoreRows(float* acc, int tokens, float* y, long yStride)
    {
        var order = Vector512.Create(LaneOfRow);
        for (int t = 0; t < tokens; t++)
        {
            Avx512F.PermuteVar16x32(Vector512.Load(acc + t * 16), order).Store(y + t * yStride);
        }
    }
}
