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
    // sub-block outer, tokens inner: a (sub-block, 8 rows)'s 4 value registers stay in registers while every token's
    // activations stream past; a token's integer sums wait in scratch (8 int32 a token) between sub-blocks
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows16Avx2(byte* group, int blocks, in Q8KBlocks x, float* acc, float* y, long yStride)
    {
        int n = x.Tokens;
        new Span<float>(acc, n * 16).Clear();
        int* sumi = (int*)(acc + n * 16);
        var low = Vector256.Create((byte)15);
        var two = Vector256.Create((byte)0x30);
        var k32 = Vector256.Create((byte)32);
        for (int b = 0; b < blocks; b++)
        {
            byte* p = group + (long)b * PackedBlockBytes;
            if (n < 4)
            {
                // decode streams the matrix
                PackedGroups.PrefetchAhead(p, PackedBlockBytes);
            }
            long bo = (long)b * n;
            for (int hr = 0; hr < 2; hr++)
            {
                new Span<int>(sumi, n * 8).Clear();
                for (int s = 0; s < 16; s++)
                {
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
}
