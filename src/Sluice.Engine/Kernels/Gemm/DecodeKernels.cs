using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// Single-token (decode) matmul for four weight rows at once, expanding each 16 weights in registers
/// and multiplying at once, so weights stream from memory with no scratch traffic. The weights take
/// exactly the float values <see cref="RowDequantizer"/> gives them and every row follows
/// <see cref="FloatGemm"/>'s recipe, so results equal the batched path bit for bit. AVX-512 only;
/// other paths expand rows through scratch.
/// </summary>
internal static unsafe class DecodeKernels
{
    /// <summary>True when <paramref name="type"/> has a fused kernel for rows of <paramref name="k"/> values.</summary>
    public static bool Supports(GgmlType type, int k) => Simd.Use512 && k % 16 == 0 && type switch
    {
        GgmlType.Q4_K or GgmlType.Q6_K => k % 256 == 0,
        GgmlType.F16 or GgmlType.BF16 or GgmlType.F32 => true,
        _ => false,
    };

    /// <summary>y[i] = row(r + i) . x for i in 0..3, rows <paramref name="rb"/> bytes apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Quad(GgmlType type, byte* w, long rb, float* x, int k, float* y)
    {
        switch (type)
        {
            case GgmlType.Q4_K: Q4_K(w, rb, x, k, y); break;
            case GgmlType.Q6_K: Q6_K(w, rb, x, k, y); break;
            case GgmlType.F16: F16(w, rb, x, k, y); break;
            case GgmlType.BF16: BF16(w, rb, x, k, y); break;
            default: F32(w, rb, x, k, y); break;
        }
    }

    // Decode streams weights once. Hardware prefetchers alone left one thread at ~9 GB/s (four
    // interleaved row streams, each cache line carrying enough work to fill the out-of-order window).
    // Prefetching 16 KiB further on in all four streams fixes that, but into L2 (prefetcht1), not L1:
    // a prefetcht0 holds one of the core's few L1 miss buffers for the whole trip to DRAM, which capped
    // one thread at ~12 GB/s on a Zen 4 (EPYC) host; prefetcht1 measured 23 GB/s there (F16, 266 MB matrix).
    private const int PrefetchDistance = 16384;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Prefetch(byte* p, long rb)
    {
        Sse.Prefetch1(p + PrefetchDistance);
        Sse.Prefetch1(p + rb + PrefetchDistance);
        Sse.Prefetch1(p + 2 * rb + PrefetchDistance);
        Sse.Prefetch1(p + 3 * rb + PrefetchDistance);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        y[0] = FloatGemm.Reduce(a);
        y[1] = FloatGemm.Reduce(b);
        y[2] = FloatGemm.Reduce(c);
        y[3] = FloatGemm.Reduce(d);
    }

    // vpermps picks table entries by index (it reads only an index's low four bits, so a low nibble needs no mask)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pick(Vector512<float> table, Vector512<int> index) => Avx512F.PermuteVar16x32(table, index);

    // Q4_K and Q6_K keep every scale computation inside the kernel, without calls or inner loops: a
    // call per block (all vector registers are caller-saved) or a loop the JIT cannot unroll made it keep
    // the accumulators in memory, which ran these kernels at a third of Q4_0's speed.

    // A Q4_K row's scales for one block: d * sc[s] into ds[0..7] and dmin * m[s] into ds[8..15], each
    // product rounded once as RowDequantizer rounds it. The 6-bit fields are unpacked four at a time.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KScaleRow(byte* p, float* t, float* ds)
    {
        uint a = *(uint*)(p + 4), b = *(uint*)(p + 8), c = *(uint*)(p + 12);
        ulong scales = (a & 0x3F3F3F3Fu) | ((ulong)((c & 0x0F0F0F0Fu) | ((a >> 2) & 0x30303030u)) << 32);
        ulong mins = (b & 0x3F3F3F3Fu) | ((ulong)(((c >> 4) & 0x0F0F0F0Fu) | ((b >> 2) & 0x30303030u)) << 32);
        var f = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Create(scales, mins).AsByte()));
        (f * Vector512.Create(Vector256.Create(t[*(ushort*)p]), Vector256.Create(t[*(ushort*)(p + 2)]))).Store(ds);
    }

    // the 16 values a Q4_K sub-block can take, (d * sc) * q - dmin * m for q = 0..15, as RowDequantizer computes each
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Q4KTable(Vector512<float> levels, float* ds, int s) =>
        levels * Vector512.Create(ds[s]) - Vector512.Create(ds[8 + s]);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_K(byte* w0, long rb, float* x, int k, float* y)
    {
        // per row (16 apart): d * sc[s] for the block's 8 sub-blocks, then dmin * m[s]
        float* ds = stackalloc float[64];
        float* t = HalfTable.Table; // a local: a static access inside the loop is a helper call, which spills every accumulator
        var levels = Vector512.Create(0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f, 11f, 12f, 13f, 14f, 15f);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int b = 0; b < k / 256; b++)
        {
            long o = (long)b * 144;
            byte* p0 = w0 + o, p1 = p0 + rb, p2 = p1 + rb, p3 = p2 + rb;
            Prefetch(p0, rb);
            Prefetch(p0 + 64, rb);
            Prefetch(p0 + 128, rb);
            Q4KScaleRow(p0, t, ds);
            Q4KScaleRow(p1, t, ds + 16);
            Q4KScaleRow(p2, t, ds + 32);
            Q4KScaleRow(p3, t, ds + 48);
            float* xb = x + b * 256;
            // element order: low nibbles of the chunk's two 16-byte halves, then their high nibbles
            for (int g = 0; g < 4; g++)
            {
                int s0 = 2 * g, s1 = 2 * g + 1, qo = 16 + g * 32;
                var a0 = Avx512F.ConvertToVector512Int32(Vector128.Load(p0 + qo));
                var a1 = Avx512F.ConvertToVector512Int32(Vector128.Load(p1 + qo));
                var a2 = Avx512F.ConvertToVector512Int32(Vector128.Load(p2 + qo));
                var a3 = Avx512F.ConvertToVector512Int32(Vector128.Load(p3 + qo));
                var b0 = Avx512F.ConvertToVector512Int32(Vector128.Load(p0 + qo + 16));
                var b1 = Avx512F.ConvertToVector512Int32(Vector128.Load(p1 + qo + 16));
                var b2 = Avx512F.ConvertToVector512Int32(Vector128.Load(p2 + qo + 16));
                var b3 = Avx512F.ConvertToVector512Int32(Vector128.Load(p3 + qo + 16));
                var t0 = Q4KTable(levels, ds, s0);
                var t1 = Q4KTable(levels, ds + 16, s0);
                var t2 = Q4KTable(levels, ds + 32, s0);
                var t3 = Q4KTable(levels, ds + 48, s0);
                float* xg = xb + g * 64;
                var xv = Vector512.Load(xg);
                c0 = Simd.Fma512(Pick(t0, a0), xv, c0);
                c1 = Simd.Fma512(Pick(t1, a1), xv, c1);
                c2 = Simd.Fma512(Pick(t2, a2), xv, c2);
                c3 = Simd.Fma512(Pick(t3, a3), xv, c3);
                xv = Vector512.Load(xg + 16);
                c0 = Simd.Fma512(Pick(t0, b0), xv, c0);
                c1 = Simd.Fma512(Pick(t1, b1), xv, c1);
                c2 = Simd.Fma512(Pick(t2, b2), xv, c2);
                c3 = Simd.Fma512(Pick(t3, b3), xv, c3);
                t0 = Q4KTable(levels, ds, s1);
                t1 = Q4KTable(levels, ds + 16, s1);
                t2 = Q4KTable(levels, ds + 32, s1);
                t3 = Q4KTable(levels, ds + 48, s1);
                xv = Vector512.Load(xg + 32);
                c0 = Simd.Fma512(Pick(t0, a0 >>> 4), xv, c0);
                c1 = Simd.Fma512(Pick(t1, a1 >>> 4), xv, c1);
                c2 = Simd.Fma512(Pick(t2, a2 >>> 4), xv, c2);
                c3 = Simd.Fma512(Pick(t3, a3 >>> 4), xv, c3);
                xv = Vector512.Load(xg + 48);
                c0 = Simd.Fma512(Pick(t0, b0 >>> 4), xv, c0);
                c1 = Simd.Fma512(Pick(t1, b1 >>> 4), xv, c1);
                c2 = Simd.Fma512(Pick(t2, b2 >>> 4), xv, c2);
                c3 = Simd.Fma512(Pick(t3, b3 >>> 4), xv, c3);
            }
        }
        Store(y, c0, c1, c2, c3);
    }

    // One row's 128 values of a Q6_K half-block as q - 32 in bytes, element order: ql holds the low nibbles
    // of quadrants 0 and 1 (bytes 0..63) and, in its high nibbles, those of quadrants 2 and 3; qh holds
    // each quadrant's two high bits at bit 2 * qd of the byte for its offset.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KBytes(byte* ql, byte* qh, sbyte* dst)
    {
        var low = Vector512.Load(ql);
        var high = Vector512.Create(Vector256.Load(qh)).AsUInt64();
        var m4 = Vector512.Create((byte)0x0F);
        var m30 = Vector512.Create((byte)0x30);
        var k32 = Vector512.Create((byte)32);
        // quadrants 0 | 1: qh bits 0-1 | 2-3 moved to bits 4-5; quadrants 2 | 3: bits 4-5 | 6-7
        var hA = (Avx512F.ShiftRightLogicalVariable(high, Vector512.Create(0ul, 0, 0, 0, 2, 2, 2, 2)) << 4).AsByte() & m30;
        var hB = (Avx512F.ShiftRightLogicalVariable(high, Vector512.Create(4ul, 4, 4, 4, 6, 6, 6, 6)) << 4).AsByte() & m30;
        (((low & m4) | hA) - k32).AsSByte().Store(dst);
        ((((low.AsUInt64() >>> 4).AsByte() & m4) | hB) - k32).AsSByte().Store(dst + 64);
    }

    // 16 of those bytes as floats times their group scale d * sc, as RowDequantizer computes them
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Q6KWiden(sbyte* q, float ds) =>
        Vector512.Create(ds) * Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q)));

    // a Q6_K row's 16 group scales d * sc[g] for one block, each product rounded once as RowDequantizer rounds it
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KScaleRow(byte* p, float* t, float* ds) =>
        (Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)(p + 192)))) * Vector512.Create(t[*(ushort*)(p + 208)])).Store(ds);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q6_K(byte* w0, long rb, float* x, int k, float* y)
    {
        // per row (16 apart): d * sc[g] of the current block's 16 groups
        float* ds = stackalloc float[64];
        // per row (128 apart): q - 32 of the current half-block, as bytes in element order
        sbyte* qs = stackalloc sbyte[512];
        float* t = HalfTable.Table;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, xv;
        for (int b = 0; b < k / 256; b++)
        {
            long o = (long)b * 210;
            byte* q0 = w0 + o, q1 = q0 + rb, q2 = q1 + rb, q3 = q2 + rb;
            Prefetch(q0, rb);
            Prefetch(q0 + 64, rb);
            Prefetch(q0 + 128, rb);
            Prefetch(q0 + 192, rb);
            Q6KScaleRow(q0, t, ds);
            Q6KScaleRow(q1, t, ds + 16);
            Q6KScaleRow(q2, t, ds + 32);
            Q6KScaleRow(q3, t, ds + 48);
            // element order: half n, quadrant qd (q1..q4 of ggml's layout), offset l within the quadrant's 32.
            // Each row's 6-bit values for a half are assembled as bytes (q - 32, 64 bytes per two quadrants)
            // into qs, then widened 16 at a time.
            for (int n = 0; n < 2; n++)
            {
                float* sn = ds + n * 8;
                float* xn = x + b * 256 + n * 128;
                Q6KBytes(q0 + n * 64, q0 + 128 + n * 32, qs + 0);
                Q6KBytes(q1 + n * 64, q1 + 128 + n * 32, qs + 128);
                Q6KBytes(q2 + n * 64, q2 + 128 + n * 32, qs + 256);
                Q6KBytes(q3 + n * 64, q3 + 128 + n * 32, qs + 384);
                xv = Vector512.Load(xn + 0);
                c0 = Simd.Fma512(Q6KWiden(qs + 0, sn[0]), xv, c0);
                c1 = Simd.Fma512(Q6KWiden(qs + 128, sn[16]), xv, c1);
                c2 = Simd.Fma512(Q6KWiden(qs + 256, sn[32]), xv, c2);
                c3 = Simd.Fma512(Q6KWiden(qs + 384, sn[48]), xv, c3);
                xv = Vector512.Load(xn + 16);
                c0 = Simd.Fma512(Q6KWiden(qs + 16, sn[1]), xv, c0);
                c1 = Simd.Fma512(Q6KWiden(qs + 144, sn[17]), xv, c1);
                c2 = Simd.Fma512(Q6KWiden(qs + 272, sn[33]), xv, c2);
                c3 = Simd.Fma512(Q6KWiden(qs + 400, sn[49]), xv, c3);
                xv = Vector512.Load(xn + 32);
                c0 = Simd.Fma512(Q6KWiden(qs + 32, sn[2]), xv, c0);
                c1 = Simd.Fma512(Q6KWiden(qs + 160, sn[18]), xv, c1);
                c2 = Simd.Fma512(Q6KWiden(qs + 288, sn[34]), xv, c2);
                c3 = Simd.Fma512(Q6KWiden(qs + 416, sn[50]), xv, c3);
                xv = Vector512.Load(xn + 48);
                c0 = Simd.Fma512(Q6KWiden(qs + 48, sn[3]), xv, c0);
                c1 = Simd.Fma512(Q6KWiden(qs + 176, sn[19]), xv, c1);
                c2 = Simd.Fma512(Q6KWiden(qs + 304, sn[35]), xv, c2);
                c3 = Simd.Fma512(Q6KWiden(qs + 432, sn[51]), xv, c3);
                xv = Vector512.Load(xn + 64);
                c0 = Simd.Fma512(Q6KWiden(qs + 64, sn[4]), xv, c0);
                c1 = Simd.Fma512(Q6KWiden(qs + 192, sn[20]), xv, c1);
                c2 = Simd.Fma512(Q6KWiden(qs + 320, sn[36]), xv, c2);
                c3 = Simd.Fma512(Q6KWiden(qs + 448, sn[52]), xv, c3);
                xv = Vector512.Load(xn + 80);
                c0 = Simd.Fma512(Q6KWiden(qs + 80, sn[5]), xv, c0);
                c1 = Simd.Fma512(Q6KWiden(qs + 208, sn[21]), xv, c1);
                c2 = Simd.Fma512(Q6KWiden(qs + 336, sn[37]), xv, c2);
                c3 = Simd.Fma512(Q6KWiden(qs + 464, sn[53]), xv, c3);
                xv = Vector512.Load(xn + 96);
                c0 = Simd.Fma512(Q6KWiden(qs + 96, sn[6]), xv, c0);
                c1 = Simd.Fma512(Q6KWiden(qs + 224, sn[22]), xv, c1);
                c2 = Simd.Fma512(Q6KWiden(qs + 352, sn[38]), xv, c2);
                c3 = Simd.Fma512(Q6KWiden(qs + 480, sn[54]), xv, c3);
                xv = Vector512.Load(xn + 112);
                c0 = Simd.Fma512(Q6KWiden(qs + 112, sn[7]), xv, c0);
                c1 = Simd.Fma512(Q6KWiden(qs + 240, sn[23]), xv, c1);
                c2 = Simd.Fma512(Q6KWiden(qs + 368, sn[39]), xv, c2);
                c3 = Simd.Fma512(Q6KWiden(qs + 496, sn[55]), xv, c3);
            }
        }
        Store(y, c0, c1, c2, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void F16(byte* w, long rb, float* x, int k, float* y)
    {
        ushort* w0 = (ushort*)w, w1 = (ushort*)(w + rb), w2 = (ushort*)(w + 2 * rb), w3 = (ushort*)(w + 3 * rb);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int i = 0; i < k; i += 16)
        {
            if ((i & 31) == 0)
            {
                Prefetch((byte*)(w0 + i), rb);
            }
            var xv = Vector512.Load(x + i);
            c0 = Simd.Fma512(HalfVectors.ToFloat(Vector256.Load(w0 + i)), xv, c0);
            c1 = Simd.Fma512(HalfVectors.ToFloat(Vector256.Load(w1 + i)), xv, c1);
            c2 = Simd.Fma512(HalfVectors.ToFloat(Vector256.Load(w2 + i)), xv, c2);
            c3 = Simd.Fma512(HalfVectors.ToFloat(Vector256.Load(w3 + i)), xv, c3);
        }
        Store(y, c0, c1, c2, c3);
    }

    /// <summary>
    /// F16 rows known to hold no infinity or NaN, against <paramref name="xs"/> = x * 2^112: each half
    /// widens to w * 2^-112 in three ops, and (w * 2^-112) * (x * 2^112) is the same exact product the
    /// FMA rounds in <see cref="F16"/>, so the results are identical bit for bit. x * 2^112 is exact and
    /// finite because F16 activations are rounded to halves (|x| &lt;= 65504 &lt; 2^16).
    /// </summary>
    /// <remarks>
    /// With widening this cheap, one FMA chain per row keeps up with memory, so short rows are taken one
    /// after another: a single sequential stream, which the hardware prefetchers follow at full speed
    /// without software prefetch (four interleaved row streams read ~25 % slower on one thread). Long
    /// rows keep the four-row order: one row at a time reloads x for every row, and past a few KiB of x
    /// that reload costs more than the streams do (qwen's FFN down projection, K = 4864, ran 60 % slower;
    /// llama-3.2-1b at K = 2048 decoded 14.2 vs 13.0 tok/s with four rows at a time, A/B beside each other).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void F16Scaled(byte* w, long rb, float* xs, int k, float* y)
    {
        if (k > RowByRowMaxK)
        {
            F16ScaledQuad(w, rb, xs, k, y);
            return;
        }
        for (int r = 0; r < 4; r++)
        {
            short* p = (short*)(w + r * rb);
            Vector512<float> c = default;
            for (int i = 0; i < k; i += 16)
            {
                c = Simd.Fma512(HalfVectors.FiniteToScaledFloat(Vector256.Load(p + i)), Vector512.Load(xs + i), c);
            }
            y[r] = FloatGemm.Reduce(c);
        }
    }

    private const int RowByRowMaxK = 1024;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void F16ScaledQuad(byte* w, long rb, float* xs, int k, float* y)
    {
        short* w0 = (short*)w, w1 = (short*)(w + rb), w2 = (short*)(w + 2 * rb), w3 = (short*)(w + 3 * rb);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int i = 0; i < k; i += 16)
        {
            if ((i & 31) == 0)
            {
                Prefetch((byte*)(w0 + i), rb);
            }
            var xv = Vector512.Load(xs + i);
            c0 = Simd.Fma512(HalfVectors.FiniteToScaledFloat(Vector256.Load(w0 + i)), xv, c0);
            c1 = Simd.Fma512(HalfVectors.FiniteToScaledFloat(Vector256.Load(w1 + i)), xv, c1);
            c2 = Simd.Fma512(HalfVectors.FiniteToScaledFloat(Vector256.Load(w2 + i)), xv, c2);
            c3 = Simd.Fma512(HalfVectors.FiniteToScaledFloat(Vector256.Load(w3 + i)), xv, c3);
        }
        Store(y, c0, c1, c2, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BF16(byte* w, long rb, float* x, int k, float* y)
    {
        ushort* w0 = (ushort*)w, w1 = (ushort*)(w + rb), w2 = (ushort*)(w + 2 * rb), w3 = (ushort*)(w + 3 * rb);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int i = 0; i < k; i += 16)
        {
            if ((i & 31) == 0)
            {
                Prefetch((byte*)(w0 + i), rb);
            }
            var xv = Vector512.Load(x + i);
            c0 = Simd.Fma512(HalfVectors.BF16ToFloat(Vector256.Load(w0 + i)), xv, c0);
            c1 = Simd.Fma512(HalfVectors.BF16ToFloat(Vector256.Load(w1 + i)), xv, c1);
            c2 = Simd.Fma512(HalfVectors.BF16ToFloat(Vector256.Load(w2 + i)), xv, c2);
            c3 = Simd.Fma512(HalfVectors.BF16ToFloat(Vector256.Load(w3 + i)), xv, c3);
        }
        Store(y, c0, c1, c2, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void F32(byte* w, long rb, float* x, int k, float* y)
    {
        float* w0 = (float*)w, w1 = (float*)(w + rb), w2 = (float*)(w + 2 * rb), w3 = (float*)(w + 3 * rb);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int i = 0; i < k; i += 16)
        {
            Prefetch((byte*)(w0 + i), rb);
            var xv = Vector512.Load(x + i);
            c0 = Simd.Fma512(Vector512.Load(w0 + i), xv, c0);
            c1 = Simd.Fma512(Vector512.Load(w1 + i), xv, c1);
            c2 = Simd.Fma512(Vector512.Load(w2 + i), xv, c2);
            c3 = Simd.Fma512(Vector512.Load(w3 + i), xv, c3);
        }
        Store(y, c0, c1, c2, c3);
    }
}
