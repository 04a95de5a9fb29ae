using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Quantization;
using Sluice.Engine.Quantization.Blocks;
using Sluice.Engine.Quantization.Codecs;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Quantizes float activation rows to int8 the way llama.cpp's CPU backend does before integer
/// matmuls, so results match it: Q8_0 scale amax/127 rounded to half, values round-half-even of
/// x*127/amax (its AVX path); Q8_K scale 1/(-127/m) with m the value of largest magnitude.
/// </summary>
public static unsafe class ActivationQuantizer
{
    /// <summary>Quantizes one row of <paramref name="n"/> floats (n a multiple of the block size).</summary>
    public static void QuantizeRow(ActivationFormat format, float* x, int n, sbyte* qs, float* scales, int* sums)
    {
        if (format == ActivationFormat.Q8_0)
        {
            for (int b = 0; b < n / 32; b++)
            {
                QuantizeBlockQ8_0(x + b * 32, qs + b * 32, out scales[b], out sums[b]);
            }
        }
        else
        {
            for (int b = 0; b < n / 256; b++)
            {
                QuantizeBlockQ8K(x + b * 256, qs + b * 256, out scales[b], sums + b * 16);
            }
        }
    }

    /// <summary>
    /// Quantizes token <paramref name="t"/> of <paramref name="tokens"/> to Q8_0 blocks laid out block-major
    /// (see <see cref="Gemm.Q8Blocks"/>): block b goes to q + (b * tokens + t) * 32 (and, unless
    /// <paramref name="wide"/> is null, widened to int16 at wide + the same), scales[b * tokens + t], sums[...].
    /// </summary>
    public static void QuantizeRowBlockMajor(float* x, int n, int t, int tokens, sbyte* q, short* wide, float* scales, int* sums) =>
        QuantizeRowBlockMajor(x, t, tokens, 0, n / 32, q, wide, scales, sums);

    /// <summary>
    /// Blocks <paramref name="firstBlock"/> up to <paramref name="endBlock"/> of the row, as above: the tasks that
    /// quantize a batch each take a range of blocks for every token, so no two threads write the same cache line
    /// (tokens of one block lie side by side).
    /// </summary>
    public static void QuantizeRowBlockMajor(float* x, int t, int tokens, int firstBlock, int endBlock, sbyte* q, short* wide, float* scales, int* sums)
    {
        for (int b = firstBlock; b < endBlock; b++)
        {
            long o = (long)b * tokens + t;
            sbyte* qb = q + o * 32;
            QuantizeBlockQ8_0(x + b * 32, qb, out scales[o], out sums[o]);
            if (wide == null)
            {
                continue;
            }
            if (Simd.Use512)
            {
                Avx512BW.ConvertToVector512Int16(Vector256.Load(qb)).Store(wide + o * 32);
                continue;
            }
            if (Simd.Use256)
            {
                Avx2.ConvertToVector256Int16(Vector128.Load(qb)).Store(wide + o * 32);
                Avx2.ConvertToVector256Int16(Vector128.Load(qb + 16)).Store(wide + o * 32 + 16);
                continue;
            }
            for (int i = 0; i < 32; i++)
            {
                wide[o * 32 + i] = qb[i];
            }
        }
    }

    /// <summary>
    /// Quantizes token <paramref name="t"/> of <paramref name="tokens"/> to Q8_K blocks laid out block-major
    /// (see <see cref="Gemm.Q8KBlocks"/>): super-block b's values go to q + (b * tokens + t) * 256, the same
    /// plus 128 to u, the sums of each 32 to sums32 + (b * tokens + t) * 8, its scale to scales[b * tokens + t].
    /// </summary>
    public static void QuantizeRowBlockMajorQ8K(float* x, int n, int t, int tokens, sbyte* q, byte* u, short* sums32, float* scales) =>
        QuantizeRowBlockMajorQ8K(x, t, tokens, 0, n / 256, q, u, sums32, scales);

    /// <summary>Super-blocks <paramref name="firstBlock"/> up to <paramref name="endBlock"/> of the row, as above.</summary>
    public static void QuantizeRowBlockMajorQ8K(float* x, int t, int tokens, int firstBlock, int endBlock, sbyte* q, byte* u, short* sums32, float* scales)
    {
        int* sums = stackalloc int[16];
        for (int b = firstBlock; b < endBlock; b++)
        {
            long o = (long)b * tokens + t;
            sbyte* qb = q + o * 256;
            QuantizeBlockQ8K(x + b * 256, qb, out scales[o], sums);
            byte* ub = u + o * 256;
            if (Simd.Use256)
            {
                // q + 128 as unsigned: the sign bit flipped
                var flip = Vector256.Create((byte)0x80);
                for (int i = 0; i < 256; i += 32)
                {
                    (Vector256.Load((byte*)qb + i) ^ flip).Store(ub + i);
                }
            }
            else
            {
                for (int i = 0; i < 256; i++)
                {
                    ub[i] = (byte)(qb[i] + 128);
                }
            }
            for (int i = 0; i < 8; i++)
            {
                sums32[o * 8 + i] = (short)(sums[2 * i] + sums[2 * i + 1]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuantizeBlockQ8_0(float* x, sbyte* q, out float scale, out int sum)
    {
        if (Simd.Use512)
        {
            var a = Vector512.Load(x);
            var b = Vector512.Load(x + 16);
            float amax512 = Vector512.Max(Vector512.Abs(a), Vector512.Abs(b)).ToScalarMax();
            scale = HalfVectors.RoundToHalf(amax512 / 127f);
            var id = Vector512.Create(amax512 != 0 ? 127f / amax512 : 0f);
            // vcvtps2dq rounds to nearest even, as llama.cpp's _mm256_round_ps(_MM_ROUND_NEAREST) does
            var qa = Avx512F.ConvertToVector512Int32(a * id);
            var qb = Avx512F.ConvertToVector512Int32(b * id);
            Avx512F.ConvertToVector128SByte(qa).Store(q);
            Avx512F.ConvertToVector128SByte(qb).Store(q + 16);
            sum = Vector512.Sum(qa + qb);
            return;
        }
        if (Simd.Use256)
        {
            var a0 = Vector256.Load(x);
            var a1 = Vector256.Load(x + 8);
            var a2 = Vector256.Load(x + 16);
            var a3 = Vector256.Load(x + 24);
            float amax = Vector256.Max(Vector256.Max(Vector256.Abs(a0), Vector256.Abs(a1)), Vector256.Max(Vector256.Abs(a2), Vector256.Abs(a3))).ToScalarMax();
            scale = HalfVectors.RoundToHalf(amax / 127f);
            var id = Vector256.Create(amax != 0 ? 127f / amax : 0f);
            var q0 = Avx.ConvertToVector256Int32(a0 * id);
            var q1 = Avx.ConvertToVector256Int32(a1 * id);
            var q2 = Avx.ConvertToVector256Int32(a2 * id);
            var q3 = Avx.ConvertToVector256Int32(a3 * id);
            // the packs interleave 128-bit lanes: dwords come out as values 0-3, 8-11, 16-19, 24-27, 4-7, 12-15, 20-23, 28-31
            var bytes = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(q0, q1), Avx2.PackSignedSaturate(q2, q3));
            Avx2.PermuteVar8x32(bytes.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).Store((int*)q);
            sum = Vector256.Sum(q0 + q1 + (q2 + q3));
            return;
        }
        QuantizeBlockQ8_0Reference(x, q, out scale, out sum);
    }

    /// <summary>Q8_0 activation block through the scalar codec (the reference the vector path is tested against).</summary>
    public static void QuantizeBlockQ8_0Reference(float* x, sbyte* q, out float scale, out int sum)
    {
        var block = default(BlockQ8_0);
        Q8_0Codec.QuantizeLikeX86Backend(new ReadOnlySpan<float>(x, 32), MemoryMarshal.AsBytes(new Span<BlockQ8_0>(ref block)));
        scale = Fp16.ToFloat(block.D);
        int s = 0;
        for (int i = 0; i < 32; i++)
        {
            q[i] = block.Qs[i];
            s += block.Qs[i];
        }
        sum = s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuantizeBlockQ8K(float* x, sbyte* q, out float scale, int* bsums)
    {
        if (!Simd.Use256)
        {
            QuantizeBlockQ8KReference(x, q, out scale, bsums);
            return;
        }
        float amax = MaxMagnitude256(x);
        if (float.IsNaN(amax))
        {
            // a NaN activation (from a NaN weight or a lying model file): the search below would never find
            // it and would run past the block; the reference codec skips NaNs in its maximum, as ggml does
            QuantizeBlockQ8KReference(x, q, out scale, bsums);
            return;
        }
        if (amax == 0)
        {
            scale = 0;
            new Span<sbyte>(q, 256).Clear();
            new Span<int>(bsums, 16).Clear();
            return;
        }
        // the first element of largest magnitude decides the sign, as in ggml
        int first = 0;
        while (first < 255 && MathF.Abs(x[first]) != amax)
        {
            first++;
        }
        float iscale = -127f / x[first];
        if (Simd.Use512)
        {
            var vs = Vector512.Create(iscale);
            var cap = Vector512.Create(127);
            for (int j = 0; j < 256; j += 16)
            {
                var v = Vector512.Min(Avx512F.ConvertToVector512Int32(Vector512.Load(x + j) * vs), cap);
                Avx512F.ConvertToVector128SByte(v).Store(q + j);
                bsums[j / 16] = Vector512.Sum(v);
            }
        }
        else
        {
            var vs = Vector256.Create(iscale);
            var cap = Vector256.Create(127);
            for (int j = 0; j < 256; j += 32)
            {
                // vcvtps2dq rounds to nearest even, as the reference's nearest_int does
                var v0 = Vector256.Min(Avx.ConvertToVector256Int32(Vector256.Load(x + j) * vs), cap);
                var v1 = Vector256.Min(Avx.ConvertToVector256Int32(Vector256.Load(x + j + 8) * vs), cap);
                var v2 = Vector256.Min(Avx.ConvertToVector256Int32(Vector256.Load(x + j + 16) * vs), cap);
                var v3 = Vector256.Min(Avx.ConvertToVector256Int32(Vector256.Load(x + j + 24) * vs), cap);
                // the packs interleave 128-bit lanes (see QuantizeBlockQ8_0); the permute puts the dwords back in order
                var bytes = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(v0, v1), Avx2.PackSignedSaturate(v2, v3));
                Avx2.PermuteVar8x32(bytes.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).Store((int*)(q + j));
                bsums[j / 16] = Vector256.Sum(v0 + v1);
                bsums[j / 16 + 1] = Vector256.Sum(v2 + v3);
            }
        }
        scale = 1 / iscale;
    }

    // the largest magnitude of a 256-value block
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxMagnitude256(float* x)
    {
        if (Simd.Use512)
        {
            var m = Vector512<float>.Zero;
            for (int j = 0; j < 256; j += 16)
            {
                m = Vector512.Max(m, Vector512.Abs(Vector512.Load(x + j)));
            }
            return m.ToScalarMax();
        }
        var m0 = Vector256<float>.Zero;
        var m1 = Vector256<float>.Zero;
        for (int j = 0; j < 256; j += 16)
        {
            m0 = Vector256.Max(m0, Vector256.Abs(Vector256.Load(x + j)));
            m1 = Vector256.Max(m1, Vector256.Abs(Vector256.Load(x + j + 8)));
        }
        return Vector256.Max(m0, m1).ToScalarMax();
    }

    /// <summary>Q8_K activation block through the scalar codec (ggml's quantize_row_q8_K_ref).</summary>
    public static void QuantizeBlockQ8KReference(float* x, sbyte* q, out float scale, int* bsums)
    {
        var block = default(BlockQ8_K);
        Q8_KCodec.Quantize(new ReadOnlySpan<float>(x, 256), MemoryMarshal.AsBytes(new Span<BlockQ8_K>(ref block)));
        scale = block.D;
        for (int i = 0; i < 256; i++)
        {
            q[i] = block.Qs[i];
        }
        for (int j = 0; j < 16; j++)
        {
            bsums[j] = block.BSums[j];
        }
    }
}

internal static class VectorExtensions
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToScalarMax(this Vector512<float> v) => Vector256.Max(v.GetLower(), v.GetUpper()).ToScalarMax();

    public static float ToScalarMax(this Vector256<float> m)
    {
        var m2 = Vector128.Max(m.GetLower(), m.GetUpper());
        m2 = Vector128.Max(m2, Vector128.Shuffle(m2, Vector128.Create(2, 3, 0, 1)));
        m2 = Vector128.Max(m2, Vector128.Shuffle(m2, Vector128.Create(1, 0, 3, 2)));
        return m2.ToScalar();
    }
}
