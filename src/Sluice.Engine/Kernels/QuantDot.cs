using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Fast dot products of one quantized weight row with one quantized activation row: AVX-512 (two
/// 32-blocks or one 256-superblock per step), AVX2, and the scalar reference as the fallback.
/// Integer products accumulate exactly; only the per-block scaling is float, as in llama.cpp.
/// </summary>
public static unsafe class QuantDot
{
    private static readonly Vector512<ulong> InterleaveHalves = Vector512.Create(0ul, 1, 4, 5, 2, 3, 6, 7);

    public static float Q8_0(byte* w, sbyte* xq, float* xs, int blocks) =>
        Simd.Use512 ? Q8_0Avx512(w, xq, xs, blocks) : Simd.Use256 ? Q8_0Avx2(w, xq, xs, 0, blocks) : QuantDotReference.Q8_0(w, xq, xs, blocks);

    public static float Q4_0(byte* w, sbyte* xq, float* xs, int* xsum, int blocks) =>
        Simd.Use512 ? Q4_0Avx512(w, xq, xs, xsum, blocks) : Simd.Use256 ? Q4_0Avx2(w, xq, xs, xsum, 0, blocks) : QuantDotReference.Q4_0(w, xq, xs, blocks);

    public static float Q4_K(byte* w, sbyte* xq, float* xs, int* bsums, int superBlocks) =>
        Simd.Use512 ? Q4_KAvx512(w, xq, xs, bsums, superBlocks) : Simd.Use256 ? Q4_KAvx2(w, xq, xs, bsums, superBlocks) : QuantDotReference.Q4_K(w, xq, xs, bsums, superBlocks);

    public static float Q6_K(byte* w, sbyte* xq, float* xs, int* bsums, int superBlocks) =>
        Simd.Use512 ? Q6_KAvx512(w, xq, xs, bsums, superBlocks) : Simd.Use256 ? Q6_KAvx2(w, xq, xs, bsums, superBlocks) : QuantDotReference.Q6_K(w, xq, xs, superBlocks);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q8_0Avx512(byte* w, sbyte* xq, float* xs, int blocks)
    {
        var acc = Vector512<float>.Zero;
        int b = 0;
        for (; b + 1 < blocks; b += 2)
        {
            byte* w0 = w + b * 34;
            var wv = Vector512.Create(Vector256.Load((sbyte*)(w0 + 2)), Vector256.Load((sbyte*)(w0 + 36)));
            var xv = Vector512.Load(xq + b * 32);
            var sx = Vector512.ConditionalSelect(Vector512.LessThan(wv, Vector512<sbyte>.Zero), Vector512<sbyte>.Zero - xv, xv);
            var p = Simd.DotU8S8(Avx512BW.Abs(wv), sx);
            var s = Vector512.Create(Vector256.Create(HalfTable.ToFloat(w0) * xs[b]), Vector256.Create(HalfTable.ToFloat(w0 + 34) * xs[b + 1]));
            acc = Simd.Fma512(Avx512F.ConvertToVector512Single(p), s, acc);
        }
        float sum = Vector512.Sum(acc);
        if (b < blocks)
        {
            sum += QuantDotReference.Q8_0(w + b * 34, xq + b * 32, xs + b, 1);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q8_0Avx2(byte* w, sbyte* xq, float* xs, int start, int blocks)
    {
        var acc = Vector256<float>.Zero;
        for (int b = start; b < blocks; b++)
        {
            byte* w0 = w + b * 34;
            var wv = Vector256.Load((sbyte*)(w0 + 2));
            var xv = Vector256.Load(xq + b * 32);
            var p = Simd.DotU8S8(Avx2.Abs(wv), Avx2.Sign(xv, wv));
            acc = Simd.Fma256(Avx.ConvertToVector256Single(p), Vector256.Create(HalfTable.ToFloat(w0) * xs[b]), acc);
        }
        return Vector256.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_0Avx512(byte* w, sbyte* xq, float* xs, int* xsum, int blocks)
    {
        var acc = Vector512<float>.Zero;
        var mask = Vector256.Create((byte)0x0F);
        float corr = 0;
        int b = 0;
        for (; b + 1 < blocks; b += 2)
        {
            byte* w0 = w + b * 18;
            var v = Vector256.Create(Vector128.Load(w0 + 2), Vector128.Load(w0 + 20));
            var lo = v & mask;
            var hi = (v.AsUInt16() >> 4).AsByte() & mask;
            // [lo0 lo1 hi0 hi1] -> [lo0 hi0 lo1 hi1] to follow the activations' element order
            var q = Avx512F.PermuteVar8x64(Vector512.Create(lo, hi).AsUInt64(), InterleaveHalves).AsByte();
            var p = Simd.DotU8S8(q, Vector512.Load(xq + b * 32));
            float s0 = HalfTable.ToFloat(w0) * xs[b];
            float s1 = HalfTable.ToFloat(w0 + 18) * xs[b + 1];
            acc = Simd.Fma512(Avx512F.ConvertToVector512Single(p), Vector512.Create(Vector256.Create(s0), Vector256.Create(s1)), acc);
            corr += s0 * xsum[b] + s1 * xsum[b + 1];
        }
        float sum = Vector512.Sum(acc) - 8 * corr;
        if (b < blocks)
        {
            sum += QuantDotReference.Q4_0(w + b * 18, xq + b * 32, xs + b, 1);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_0Avx2(byte* w, sbyte* xq, float* xs, int* xsum, int start, int blocks)
    {
        var acc = Vector256<float>.Zero;
        var mask = Vector128.Create((byte)0x0F);
        float corr = 0;
        for (int b = start; b < blocks; b++)
        {
            byte* w0 = w + b * 18;
            var v = Vector128.Load(w0 + 2);
            var q = Vector256.Create(v & mask, (v.AsUInt16() >> 4).AsByte() & mask);
            var p = Simd.DotU8S8(q, Vector256.Load(xq + b * 32));
            float s = HalfTable.ToFloat(w0) * xs[b];
            acc = Simd.Fma256(Avx.ConvertToVector256Single(p), Vector256.Create(s), acc);
            corr += s * xsum[b];
        }
        return Vector256.Sum(acc) - 8 * corr;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_KAvx512(byte* w, sbyte* xq, float* xs, int* bsums, int superBlocks)
    {
        var facc = Vector512<float>.Zero;
        var mask = Vector256.Create((byte)0x0F);
        float corr = 0;
        byte* sc = stackalloc byte[8];
        byte* mn = stackalloc byte[8];
        for (int b = 0; b < superBlocks; b++, w += 144)
        {
            Q4KScales(w + 4, sc, mn);
            byte* q = w + 16;
            sbyte* x = xq + b * 256;
            var acc = Vector512<int>.Zero;
            for (int c = 0; c < 4; c++)
            {
                var v = Vector256.Load(q + c * 32);
                var qv = Vector512.Create(v & mask, (v.AsUInt16() >> 4).AsByte() & mask);
                var p16 = Avx512BW.MultiplyAddAdjacent(qv, Vector512.Load(x + c * 64));
                var scv = Vector512.Create(Vector256.Create((short)sc[2 * c]), Vector256.Create((short)sc[2 * c + 1]));
                acc += Avx512BW.MultiplyAddAdjacent(p16, scv);
            }
            int* bs = bsums + b * 16;
            int summ = 0;
            for (int s = 0; s < 8; s++)
            {
                summ += mn[s] * (bs[2 * s] + bs[2 * s + 1]);
            }
            float dx = xs[b];
            facc = Simd.Fma512(Avx512F.ConvertToVector512Single(acc), Vector512.Create(HalfTable.ToFloat(w) * dx), facc);
            corr += HalfTable.ToFloat(w + 2) * dx * summ;
        }
        return Vector512.Sum(facc) - corr;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_KAvx2(byte* w, sbyte* xq, float* xs, int* bsums, int superBlocks)
    {
        var facc = Vector256<float>.Zero;
        var mask = Vector256.Create((byte)0x0F);
        float corr = 0;
        byte* sc = stackalloc byte[8];
        byte* mn = stackalloc byte[8];
        for (int b = 0; b < superBlocks; b++, w += 144)
        {
            Q4KScales(w + 4, sc, mn);
            byte* q = w + 16;
            sbyte* x = xq + b * 256;
            var acc = Vector256<int>.Zero;
            for (int c = 0; c < 4; c++)
            {
                var v = Vector256.Load(q + c * 32);
                var lo = Avx2.MultiplyAddAdjacent(v & mask, Vector256.Load(x + c * 64));
                var hi = Avx2.MultiplyAddAdjacent((v.AsUInt16() >> 4).AsByte() & mask, Vector256.Load(x + c * 64 + 32));
                acc += Avx2.MultiplyAddAdjacent(lo, Vector256.Create((short)sc[2 * c]));
                acc += Avx2.MultiplyAddAdjacent(hi, Vector256.Create((short)sc[2 * c + 1]));
            }
            int* bs = bsums + b * 16;
            int summ = 0;
            for (int s = 0; s < 8; s++)
            {
                summ += mn[s] * (bs[2 * s] + bs[2 * s + 1]);
            }
            float dx = xs[b];
            facc = Simd.Fma256(Avx.ConvertToVector256Single(acc), Vector256.Create(HalfTable.ToFloat(w) * dx), facc);
            corr += HalfTable.ToFloat(w + 2) * dx * summ;
        }
        return Vector256.Sum(facc) - corr;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Q4KScales(byte* s, byte* scales, byte* mins)
    {
        for (int j = 0; j < 4; j++)
        {
            scales[j] = (byte)(s[j] & 63);
            mins[j] = (byte)(s[j + 4] & 63);
            scales[j + 4] = (byte)((s[j + 8] & 0xF) | ((s[j] >> 6) << 4));
            mins[j + 4] = (byte)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q6_KAvx512(byte* w, sbyte* xq, float* xs, int* bsums, int superBlocks)
    {
        var facc = Vector512<float>.Zero;
        var m4 = Vector512.Create((byte)0x0F);
        var m2 = Vector512.Create((byte)0x03);
        for (int b = 0; b < superBlocks; b++, w += 210)
        {
            var scales = (sbyte*)(w + 192);
            sbyte* x = xq + b * 256;
            var acc = Vector512<int>.Zero;
            for (int n = 0; n < 2; n++)
            {
                var ql = Vector512.Load(w + n * 64);
                var qh = Vector256.Load(w + 128 + n * 32);
                var qhA = Vector512.Create(qh, (qh.AsUInt16() >> 2).AsByte());
                var qhB = Vector512.Create((qh.AsUInt16() >> 4).AsByte(), (qh.AsUInt16() >> 6).AsByte());
                var qa = (ql & m4) | ((qhA & m2).AsUInt16() << 4).AsByte();
                var qb = ((ql.AsUInt16() >> 4).AsByte() & m4) | ((qhB & m2).AsUInt16() << 4).AsByte();
                sbyte* sc = scales + n * 8;
                var sca = Vector512.Create(Pair(sc[0], sc[1]), Pair(sc[2], sc[3]));
                var scb = Vector512.Create(Pair(sc[4], sc[5]), Pair(sc[6], sc[7]));
                acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(qa, Vector512.Load(x + n * 128)), sca);
                acc += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(qb, Vector512.Load(x + n * 128 + 64)), scb);
            }
            int* bs = bsums + b * 16;
            int corr = 0;
            for (int s = 0; s < 16; s++)
            {
                corr += scales[s] * bs[s];
            }
            var total = Avx512F.ConvertToVector512Single(acc - Vector512.CreateScalar(32 * corr));
            facc = Simd.Fma512(total, Vector512.Create(HalfTable.ToFloat(w + 208) * xs[b]), facc);
        }
        return Vector512.Sum(facc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q6_KAvx2(byte* w, sbyte* xq, float* xs, int* bsums, int superBlocks)
    {
        var facc = Vector256<float>.Zero;
        var m4 = Vector256.Create((byte)0x0F);
        var m2 = Vector256.Create((byte)0x03);
        for (int b = 0; b < superBlocks; b++, w += 210)
        {
            var scales = (sbyte*)(w + 192);
            sbyte* x = xq + b * 256;
            var acc = Vector256<int>.Zero;
            for (int n = 0; n < 2; n++)
            {
                var ql0 = Vector256.Load(w + n * 64);
                var ql1 = Vector256.Load(w + n * 64 + 32);
                var qh = Vector256.Load(w + 128 + n * 32);
                var q1 = (ql0 & m4) | ((qh & m2).AsUInt16() << 4).AsByte();
                var q2 = (ql1 & m4) | (((qh.AsUInt16() >> 2).AsByte() & m2).AsUInt16() << 4).AsByte();
                var q3 = ((ql0.AsUInt16() >> 4).AsByte() & m4) | (((qh.AsUInt16() >> 4).AsByte() & m2).AsUInt16() << 4).AsByte();
                var q4 = ((ql1.AsUInt16() >> 4).AsByte() & m4) | (((qh.AsUInt16() >> 6).AsByte() & m2).AsUInt16() << 4).AsByte();
                sbyte* sc = scales + n * 8;
                sbyte* xn = x + n * 128;
                acc += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q1, Vector256.Load(xn)), Pair(sc[0], sc[1]));
                acc += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q2, Vector256.Load(xn + 32)), Pair(sc[2], sc[3]));
                acc += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q3, Vector256.Load(xn + 64)), Pair(sc[4], sc[5]));
                acc += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q4, Vector256.Load(xn + 96)), Pair(sc[6], sc[7]));
            }
            int* bs = bsums + b * 16;
            int corr = 0;
            for (int s = 0; s < 16; s++)
            {
                corr += scales[s] * bs[s];
            }
            var total = Avx.ConvertToVector256Single(acc - Vector256.CreateScalar(32 * corr));
            facc = Simd.Fma256(total, Vector256.Create(HalfTable.ToFloat(w + 208) * xs[b]), facc);
        }
        return Vector256.Sum(facc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Pair(sbyte a, sbyte b) => Vector256.Create(Vector128.Create((short)a), Vector128.Create((short)b));
}
