using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Kernels.Native;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// Q6_K weights times Q8_K-quantized activations with integer dot products, for any number of tokens.
/// The recipe for one (row, token), which every path here follows exactly:
/// <code>
/// acc = 0
/// for each 256-value super-block b in order:
///     sumi = sum over its 16 sub-blocks s of scale[s] * sum over s of q * x   (exact int; q in -32..31)
///     acc  = fma((float)sumi, d_w[b] * d_x[b], acc)
/// </code>
/// which is llama.cpp's Q6_K·Q8_K dot with the float sum taken per super-block in order. The AVX-512
/// kernel (<see cref="PackedGroups"/> layout, 16 rows) multiplies the activations offset to unsigned
/// (x + 128, from <see cref="Q8KBlocks"/>) by the signed 6-bit values with vpmaddubsw (pairs of at most
/// 2 * 255 * 32), applies each sub-block's scale with vpmaddwd, and removes the offset with a per-row
/// constant computed when packing (128 * sum of scale * q over the super-block).
/// </summary>
internal static unsafe partial class Q6_KKernels
{
    private const int BlockBytes = 210;

    // packed group, per super-block: 16 scales d (lane order), 16 offset corrections (int32, lane order),
    // per 4 rows the 16 sub-block scales (row sc0..7 per 8 bytes, then sc8..15), then per 4 rows and
    // unit (half h, 16-value run l0) the rows' 16 low-bit bytes at h*64+l0, at h*64+32+l0 and 16 high-bit
    // bytes at 128+h*32+l0
    // (the VNNI layout, PackRowsInLanes, uses the same offsets)
    internal const int CorrectionsAt = 32;
    internal const int ScalesAt = CorrectionsAt + 64;
    internal const int QuantsAt = ScalesAt + 256;

    /// <summary>Bytes one 16-row group takes per super-block once packed.</summary>
    public const int PackedBlockBytes = QuantsAt + 16 * 192;


    // the signed 6-bit value of element e (0..255) of a block
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Value(byte* blk, int e)
    {
        int h = e >> 7, c = (e >> 5) & 3, l = e & 31;
        int low = blk[h * 64 + (c & 1) * 32 + l];
        low = c < 2 ? low & 15 : low >> 4;
        int high = (blk[128 + h * 32 + l] >> (2 * c)) & 3;
        return (low | (high << 4)) - 32;
    }

    /// <summary>The recipe for one row and one token (any instruction set).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(byte* row, int blocks, in Q8KBlocks x, int t)
    {
        float acc = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* blk = row + b * BlockBytes;
            long o = (long)b * x.Tokens + t;
            byte* xu = x.U + o * 256;
            sbyte* sc = (sbyte*)blk + 192;
            int sumi = 0;
            for (int s = 0; s < 16; s++)
            {
                sumi += sc[s] * SubBlockSum(blk, s, xu + 16 * s);
            }
            acc = MathF.FusedMultiplyAdd(sumi, HalfTable.ToFloat(blk + 208) * x.D[o], acc);
        }
        return acc;
    }

    // sum over sub-block s (16 values) of q * x, with xu = x + 128
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SubBlockSum(byte* blk, int s, byte* xu)
    {
        if (Simd.Use256)
        {
            // element 16s + i: half h, quarter c, offset l = l0 + i (Value's layout)
            int h = s >> 3, c = (s >> 1) & 3, l0 = (s & 1) * 16;
            var low = Vector128.Load(blk + h * 64 + (c & 1) * 32 + l0);
            low = c < 2 ? low & Vector128.Create((byte)15) : (low.AsUInt16() >>> 4).AsByte() & Vector128.Create((byte)15);
            var high = (Vector128.Load(blk + 128 + h * 32 + l0).AsUInt16() >>> (2 * c)).AsByte() & Vector128.Create((byte)3);
            var q = ((low | (high.AsUInt16() << 4).AsByte()) - Vector128.Create((byte)32)).AsSByte();
            // (x + 128) * q in pairs of at most 2 * 255 * 32, then 128 * sum(q) taken back out
            var ones = Vector128<short>.One;
            int withOffset = Vector128.Sum(Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(Vector128.Load(xu), q), ones));
            int qSum = Vector128.Sum(Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(Vector128<byte>.One, q), ones));
            return withOffset - 128 * qSum;
        }
        int part = 0;
        for (int i = 16 * s; i < 16 * s + 16; i++)
        {
            part += Value(blk, i) * (xu[i - 16 * s] - 128);
        }
        return part;
    }

    /// <summary>
    /// Packs group g (<see cref="PackedGroups"/>) of a Q6_K matrix of at least 16 rows (always succeeds: scales are
    /// widened exactly). For <see cref="VnniKernels"/> and the AVX2 kernel the layout keeps one row per 32-bit lane
    /// instead (<see cref="PackRowsInLanes"/>), in the same number of bytes.
    /// </summary>
    public static bool PackGroup(byte* w, long rb, int rows, int blocks, int g, byte* dst)
    {
        byte* ones = stackalloc byte[16];
        new Span<byte>(ones, 16).Fill(129);
        if (VnniKernels.Available || !Simd.Use512)
        {
            PackRowsInLanes(w, rb, rows, blocks, g, dst, ones);
            return true;
        }
        int first = PackedGroups.FirstRow(g, rows);
        for (int b = 0; b < blocks; b++)
        {
            byte* p = dst + ((long)g * blocks + b) * PackedBlockBytes;
            for (int lane = 0; lane < 16; lane++)
            {
                byte* blk = w + (first + PackedGroups.RowOfLane(lane)) * rb + (long)b * BlockBytes;
                ((ushort*)p)[lane] = *(ushort*)(blk + 208);
                int corr = 0;
                for (int s = 0; s < 16; s++)
                {
                    // the sub-block's sum of values: its dot with x = 1 (stored offset, as 129)
                    corr += ((sbyte*)blk)[192 + s] * SubBlockSum(blk, s, ones);
                }
                ((int*)(p + CorrectionsAt))[lane] = 128 * corr;
            }
            for (int j = 0; j < 4; j++)
            {
                for (int r = 0; r < 4; r++)
                {
                    byte* blk = w + (first + 4 * j + r) * rb + (long)b * BlockBytes;
                    *(ulong*)(p + ScalesAt + 64 * j + 8 * r) = *(ulong*)(blk + 192);
                    *(ulong*)(p + ScalesAt + 64 * j + 32 + 8 * r) = *(ulong*)(blk + 200);
                    for (int unit = 0; unit < 4; unit++)
                    {
                        int h = unit >> 1, l0 = (unit & 1) * 16;
                        byte* u = p + QuantsAt + (j * 4 + unit) * 192 + 16 * r;
                        Vector128.Load(blk + h * 64 + l0).Store(u);
                        Vector128.Load(blk + h * 64 + 32 + l0).Store(u + 64);
                        Vector128.Load(blk + 128 + h * 32 + l0).Store(u + 128);
                    }
                }
            }
        }
        return true;
    }

    /// <summary>
    /// Group g for the VNNI and AVX2 kernels, per super-block with the 16 rows in row order: d (16 halves), the offset
    /// corrections (int32, as above), the 16 sub-block scales as bytes (16 rows per sub-block), then the 16 rows'
    /// 4-byte slices of ql and qh, three for each 4 positions of each half, in the order the kernel reads them.
    /// </summary>
    private static void PackRowsInLanes(byte* w, long rb, int rows, int blocks, int g, byte* dst, byte* ones)
    {
        int first = PackedGroups.FirstRow(g, rows);
        for (int b = 0; b < blocks; b++)
        {
            byte* p = dst + ((long)g * blocks + b) * PackedBlockBytes;
            for (int r = 0; r < 16; r++)
            {
                byte* blk = w + (first + r) * rb + (long)b * BlockBytes;
                ((ushort*)p)[r] = *(ushort*)(blk + 208);
                int corr = 0;
                for (int s = 0; s < 16; s++)
                {
                    corr += ((sbyte*)blk)[192 + s] * SubBlockSum(blk, s, ones);
                    p[ScalesAt + 16 * s + r] = blk[192 + s];
                }
                ((int*)(p + CorrectionsAt))[r] = 128 * corr;
                // in the order the kernel reads them: per half h and slice ls, ql's bytes 64h + 4ls (quarters 0
                // and 2), 64h + 32 + 4ls (quarters 1 and 3), then qh's bytes 32h + 4ls
                for (int h = 0; h < 2; h++)
                {
                    for (int ls = 0; ls < 8; ls++)
                    {
                        byte* u = p + QuantsAt + 192 * (8 * h + ls) + 4 * r;
                        *(uint*)u = *(uint*)(blk + 64 * h + 4 * ls);
                        *(uint*)(u + 64) = *(uint*)(blk + 64 * h + 32 + 4 * ls);
                        *(uint*)(u + 128) = *(uint*)(blk + 128 + 32 * h + 4 * ls);
                    }
                }
            }
        }
    }

    /// <summary>
    /// One packed 16-row group times every token of <paramref name="x"/>: y[t * yStride + i] for rows
    /// i in 0..15. <paramref name="acc"/> is scratch for 16 floats per token and 8 KiB of staging
    /// (<see cref="ScratchFloats"/> in all). AVX-512 or AVX2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows16(byte* group, int blocks, in Q8KBlocks x, float* acc, float* y, long yStride)
    {
        if (VnniKernels.Available)
        {
            VnniKernels.Q6_KRows16(group, blocks, x, acc, y, yStride);
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
        // per super-block: the 64 (sub-block, 4 rows) value registers, then their 64 scale registers
        byte* values = (byte*)(acc + n * 16);
        values = (byte*)(((nint)values + 63) & ~(nint)63);
        byte* scales = values + 64 * 64;
        byte* xu = x.U;
        float* xd = x.D;
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            PackedGroups.PrefetchAhead(p, PackedBlockBytes);
            var dw = HalfVectors.ToFloat(Vector256.Load((ushort*)p));
            var corr = Vector512.Load((int*)(p + CorrectionsAt));
            for (int j = 0; j < 4; j++)
            {
                // each 128-bit lane: one row's sub-block scales 0..7 (then 8..15) as int16
                var s0 = Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)p + ScalesAt + 64 * j)).AsByte();
                var s1 = Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)p + ScalesAt + 64 * j + 32)).AsByte();
                for (int s = 0; s < 8; s++)
                {
                    var pick = Vector512.Create((ushort)(0x0100 * (2 * s + 1) + 2 * s)).AsByte();
                    Avx512BW.Shuffle(s0, pick).Store(scales + (s * 4 + j) * 64);
                    Avx512BW.Shuffle(s1, pick).Store(scales + ((s + 8) * 4 + j) * 64);
                }
                for (int unit = 0; unit < 4; unit++)
                {
                    byte* u = p + QuantsAt + (j * 4 + unit) * 192;
                    var a = Vector512.Load(u);
                    var c = Vector512.Load(u + 64);
                    var hb = Vector512.Load(u + 128);
                    int s0i = (unit >> 1) * 8 + (unit & 1);
                    SixBits(a, c, hb, out var v0, out var v1, out var v2, out var v3);
                    v0.Store(values + (s0i * 4 + j) * 64);
                    v1.Store(values + ((s0i + 2) * 4 + j) * 64);
                    v2.Store(values + ((s0i + 4) * 4 + j) * 64);
                    v3.Store(values + ((s0i + 6) * 4 + j) * 64);
                }
            }
            long bo = (long)b * n;
            for (int t = 0; t < n; t++)
            {
                byte* xt = xu + (bo + t) * 256;
                Vector512<int> d0 = default, d1 = default, d2 = default, d3 = default;
                for (int s = 0; s < 16; s++)
                {
                    var xs = Avx512F.BroadcastVector128ToVector512((uint*)(xt + 16 * s)).AsByte();
                    byte* v = values + s * 256;
                    byte* sc = scales + s * 256;
                    d0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(xs, Vector512.Load((sbyte*)v)), Vector512.Load((short*)sc));
                    d1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(xs, Vector512.Load((sbyte*)v + 64)), Vector512.Load((short*)sc + 32));
                    d2 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(xs, Vector512.Load((sbyte*)v + 128)), Vector512.Load((short*)sc + 64));
                    d3 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(xs, Vector512.Load((sbyte*)v + 192)), Vector512.Load((short*)sc + 96));
                }
                var sums = PackedGroups.Reduce(d0, d1, d2, d3) - corr;
                float* at = acc + t * 16;
                Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sums), dw * Vector512.Create(xd[bo + t]), Vector512.Load(at)).Store(at);
            }
        }
        PackedGroups.StoreRows(acc, n, y, yStride);
    }

    // One token (decode): values and scales made in registers and used at once, 4 rows at a time,
    // instead of staged for many tokens. The integer sums are exact, so the order does not matter.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneToken(byte* group, int blocks, in Q8KBlocks x, float* y)
    {
        byte* xu = x.U;
        float* xd = x.D;
        var facc = Vector512<float>.Zero;
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            byte* xt = xu + (long)b * 256;
            Vector512<int> d0 = default, d1 = default, d2 = default, d3 = default;
            for (int j = 0; j < 4; j++)
            {
                var s0 = Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)p + ScalesAt + 64 * j)).AsByte();
                var s1 = Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)p + ScalesAt + 64 * j + 32)).AsByte();
                var sum = Vector512<int>.Zero;
                PackedGroups.PrefetchAheadPart(p, PackedBlockBytes, j, 4);
                for (int unit = 0; unit < 4; unit++)
                {
                    byte* u = p + QuantsAt + (j * 4 + unit) * 192;
                    var a = Vector512.Load(u);
                    var c = Vector512.Load(u + 64);
                    var hb = Vector512.Load(u + 128);
                    int s0i = (unit >> 1) * 8 + (unit & 1);
                    // sub-block s0i + 2c's scales: int16 index (s0i + 2c) % 8 of s0 (sub-blocks 0..7) or s1 (8..15)
                    var sc = unit >> 1 == 0 ? s0 : s1;
                    int m = s0i & 7;
                    SixBits(a, c, hb, out var v0, out var v1, out var v2, out var v3);
                    sum += Sub(v0, sc, m, xt + 16 * s0i) + Sub(v1, sc, m + 2, xt + 16 * (s0i + 2))
                        + Sub(v2, sc, m + 4, xt + 16 * (s0i + 4)) + Sub(v3, sc, m + 6, xt + 16 * (s0i + 6));
                }
                switch (j)
                {
                    case 0: d0 = sum; break;
                    case 1: d1 = sum; break;
                    case 2: d2 = sum; break;
                    default: d3 = sum; break;
                }
            }
            var dw = HalfVectors.ToFloat(Vector256.Load((ushort*)p));
            var sums = PackedGroups.Reduce(d0, d1, d2, d3) - Vector512.Load((int*)(p + CorrectionsAt));
            facc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sums), dw * Vector512.Create(xd[b]), facc);
        }
        float* tmp = stackalloc float[16];
        facc.Store(tmp);
        PackedGroups.StoreRows(tmp, 1, y, 0);
    }

    // One unit of 4 rows (low-bit bytes a at h*64+l0, c at h*64+32+l0, high bits hb) as the signed values of
    // sub-blocks s0i, s0i + 2, s0i + 4, s0i + 6: low / high nibbles of a and c joined with qh bits 2c, 2c+1
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SixBits(Vector512<byte> a, Vector512<byte> c, Vector512<byte> hb,
        out Vector512<byte> v0, out Vector512<byte> v1, out Vector512<byte> v2, out Vector512<byte> v3)
    {
        var low = Vector512.Create((byte)15);
        var two = Vector512.Create((byte)0x30);
        var k32 = Vector512.Create((byte)32);
        v0 = ((a & low) | ((hb.AsUInt16() << 4).AsByte() & two)) - k32;
        v1 = ((c & low) | ((hb.AsUInt16() << 2).AsByte() & two)) - k32;
        v2 = (((a.AsUInt16() >>> 4).AsByte() & low) | (hb & two)) - k32;
        v3 = (((c.AsUInt16() >>> 4).AsByte() & low) | ((hb.AsUInt16() >>> 2).AsByte() & two)) - k32;
    }

    // 4 rows' sub-block (signed values v) times the token's 16 offset activations, scaled by int16 scale m of sc
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Sub(Vector512<byte> v, Vector512<byte> sc, int m, byte* xs)
    {
        var scale = Avx512BW.Shuffle(sc, Vector512.Create((ushort)(0x0100 * (2 * m + 1) + 2 * m)).AsByte());
        var xv = Avx512F.BroadcastVector128ToVector512((uint*)xs).AsByte();
        return Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(xv, v.AsSByte()), scale.AsInt16());
    }

    /// <summary>Scratch floats <see cref="Rows16"/> needs for <paramref name="tokens"/> tokens.</summary>
    public static long ScratchFloats(int tokens) => 24L * tokens + 2 * 64 * 16 + 16;
}

/// <summary>
/// Input rows quantized to Q8_K blocks (llama.cpp's activation rounding for K-quant weights), stored
/// block-major: super-block b of token t has its 256 values at Q + (b * Tokens + t) * 256, the same
/// offset by +128 (unsigned) at U + the same, the sums of each 32 values at Sums + (b * Tokens + t) * 8,
/// and its scale at D[b * Tokens + t].
/// </summary>
public readonly unsafe struct Q8KBlocks(sbyte* q, byte* u, short* sums, float* d, int tokens)
{
    public sbyte* Q { get; } = q;
    public byte* U { get; } = u;
    public short* Sums { get; } = sums;
    public float* D { get; } = d;
    public int Tokens { get; } = tokens;
}
