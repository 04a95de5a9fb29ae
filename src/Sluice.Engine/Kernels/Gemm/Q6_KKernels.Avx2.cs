using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// The AVX2 kernel, on the rows-in-lanes layout (<see cref="PackRowsInLanes"/>): a 32-byte load holds 4 bytes of each
/// of 8 rows, one row per 32-bit lane. The 6-bit values are rebuilt as signed bytes (q - 32) in registers; vpmaddubsw
/// of the activations + 128 (4 broadcast to every lane) by them leaves two int16 pair sums per row (at most
/// 2 * 255 * 32 = 16320, so two slices still add in int16), one vpmaddwd by the row's sub-block scale widens them,
/// and the packed correction (128 times the scaled value sum) comes off at the end: the recipe's exact sum, then its
/// FMA (bit-identical to <see cref="Dot"/>).
/// </summary>
internal static unsafe partial class Q6_KKernels
{
    // One token (decode): each sub-block's values are rebuilt and used at once, the integer sums stay in registers
    // (no scratch round trip per sub-block) and each sub-block's scale pair is one vpshufb of its widened bytes.
    // Two passes over a super-block (rows 0..7, then 8..15) read it from L1; the matrix streams once.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneTokenAvx2(byte* group, int blocks, in Q8KBlocks x, float* y)
    {
        var low = Vector256.Create((byte)15);
        var two = Vector256.Create((byte)0x30);
        var k32 = Vector256.Create((byte)32);
        // the low int16 of each int32 lane to both its halves (vpshufb indexes within each 128-bit lane)
        var pair = Vector256.Create(0x01000100, 0x05040504, 0x09080908, 0x0D0C0D0C, 0x01000100, 0x05040504, 0x09080908, 0x0D0C0D0C).AsByte();
        var f0 = Vector256<float>.Zero;
        var f1 = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            byte* xu = x.U + (long)b * 256;
            var dx = Vector256.Create(x.D[b]);
            for (int hr = 0; hr < 2; hr++)
            {
                Vector256<int> s0 = default, s1 = default;
                for (int h = 0; h < 2; h++)
                {
                    for (int k = 0; k < 2; k++)
                    {
                        PackedGroups.PrefetchAheadPart(p, PackedBlockBytes, 4 * hr + 2 * h + k, 8);
                        // sub-blocks 8h + 2c + k (quarter c): slices 4k..4k + 3 of half h, activations from 128h + 32c + 16k
                        byte* u = p + QuantsAt + 192 * (8 * h + 4 * k) + 32 * hr;
                        byte* xs = xu + 128 * h + 16 * k;
                        sbyte* sc = (sbyte*)p + ScalesAt + 16 * (8 * h + k) + 8 * hr;
                        s0 += Quarter(u, 0, xs, sc, low, two, k32, pair);
                        s1 += Quarter(u, 1, xs + 32, sc + 32, low, two, k32, pair);
                        s0 += Quarter(u, 2, xs + 64, sc + 64, low, two, k32, pair);
                        s1 += Quarter(u, 3, xs + 96, sc + 96, low, two, k32, pair);
                    }
                }
                var sums = s0 + s1 - Vector256.Load((int*)(p + CorrectionsAt) + 8 * hr);
                var dw = HalfVectors.ToFloat(Vector128.Load((ushort*)p + 8 * hr));
                if (hr == 0)
                {
                    f0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), dw * dx, f0);
                }
                else
                {
                    f1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), dw * dx, f1);
                }
            }
        }
        f0.Store(y);
        f1.Store(y + 8);
    }

    // one sub-block of 8 rows (quarter c of the 4 slices at u, u + 192, .., 16 activations + 128 at xs, the rows'
    // scales at sc): the rows' exact scaled sums with the offset still in
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Quarter(byte* u, int c, byte* xs, sbyte* sc, Vector256<byte> low, Vector256<byte> two,
        Vector256<byte> k32, Vector256<byte> pair)
    {
        var scale = Avx2.Shuffle(Avx2.ConvertToVector256Int32(sc).AsByte(), pair).AsInt16();
        uint* xt = (uint*)xs;
        var p01 = Mad(xt, Values(u, c, low, two, k32)) + Mad(xt + 1, Values(u + 192, c, low, two, k32));
        var p23 = Mad(xt + 2, Values(u + 384, c, low, two, k32)) + Mad(xt + 3, Values(u + 576, c, low, two, k32));
        return Avx2.MultiplyAddAdjacent(p01, scale) + Avx2.MultiplyAddAdjacent(p23, scale);
    }

    // sub-block outer, tokens inner: a (sub-block, 8 rows)'s 4 value registers stay in registers while every token's
    // activations stream past; a token's integer sums wait in scratch (8 int32 a token) between sub-blocks
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
        var two = Vector256.Create((byte)0x30);
        var k32 = Vector256.Create((byte)32);
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            long bo = (long)b * n;
            for (int hr = 0; hr < 2; hr++)
            {
                new Span<int>(sumi, n * 8).Clear();
                for (int s = 0; s < 16; s++)
                {
                    PackedGroups.PrefetchAheadPart(p, PackedBlockBytes, 16 * hr + s, 32);
                    // sub-block s: half h, quarter c, positions 16k..16k + 15 (slices ls = 4k..4k + 3 of the half)
                    int h = s >> 3, c = (s >> 1) & 3, k = s & 1;
                    byte* u = p + QuantsAt + 192 * (8 * h + 4 * k) + 32 * hr;
                    var v0 = Values(u, c, low, two, k32);
                    var v1 = Values(u + 192, c, low, two, k32);
                    var v2 = Values(u + 384, c, low, two, k32);
                    var v3 = Values(u + 576, c, low, two, k32);
                    var sc = Avx2.ConvertToVector256Int32((sbyte*)p + ScalesAt + 16 * s + 8 * hr);
                    var scale = ((sc & Vector256.Create(0xFFFF)) | (sc << 16)).AsInt16();
                    byte* xu = x.U + bo * 256 + 16 * s;
                    int* si = sumi;
                    for (int t = 0; t < n; t++, xu += 256, si += 8)
                    {
                        uint* xt = (uint*)xu;
                        var p01 = Mad(xt[0], v0) + Mad(xt[1], v1);
                        var p23 = Mad(xt[2], v2) + Mad(xt[3], v3);
                        (Avx2.MultiplyAddAdjacent(p01, scale) + Avx2.MultiplyAddAdjacent(p23, scale) + Vector256.Load(si)).Store(si);
                    }
                }
                var dw = HalfVectors.ToFloat(Vector128.Load((ushort*)p + 8 * hr));
                var corr = Vector256.Load((int*)(p + CorrectionsAt) + 8 * hr);
                for (int t = 0; t < n; t++)
                {
                    float* at = acc + t * 16 + 8 * hr;
                    var sums = Vector256.Load(sumi + 8 * t) - corr;
                    Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), dw * Vector256.Create(x.D[bo + t]), Vector256.Load(at)).Store(at);
                }
            }
        }
        for (int t = 0; t < n; t++)
        {
            Vector256.Load(acc + t * 16).Store(y + t * yStride);
            Vector256.Load(acc + t * 16 + 8).Store(y + t * yStride + 8);
        }
    }

    // the signed values of quarter c at one packed slice (ql at u or u + 64, qh at u + 128): 8 rows' 4 values each
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Values(byte* u, int c, Vector256<byte> low, Vector256<byte> two, Vector256<byte> k32)
    {
        var ql = Vector256.Load(u + 64 * (c & 1));
        var qh = Vector256.Load(u + 128);
        var nibbles = c < 2 ? ql & low : (ql.AsUInt16() >>> 4).AsByte() & low;
        var high = c switch
        {
            0 => (qh.AsUInt16() << 4).AsByte(),
            1 => (qh.AsUInt16() << 2).AsByte(),
            2 => qh,
            _ => (qh.AsUInt16() >>> 2).AsByte(),
        };
        return ((nibbles | (high & two)) - k32).AsSByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Mad(uint quad, Vector256<sbyte> values) => Avx2.MultiplyAddAdjacent(Vector256.Create(quad).AsByte(), values);

    // the same with the broadcast from memory (vpbroadcastd ymm, m32: a load, no shuffle port)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Mad(uint* quad, Vector256<sbyte> values) => Avx2.MultiplyAddAdjacent(Avx2.BroadcastScalarToVector256(quad).AsByte(), values);
}
