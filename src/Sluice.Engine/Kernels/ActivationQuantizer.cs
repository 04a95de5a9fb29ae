using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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

    /// <summary>Q8_K: each 16-value sum times its 256-block's scale (n / 16 values).</summary>
    public static void ScaleSums(float* scales, int* sums, float* scaled, int n)
    {
        for (int i = 0; i < n / 16; i++)
        {
            scaled[i] = scales[i / 16] * sums[i];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuantizeBlockQ8_0(float* x, sbyte* q, out float scale, out int sum)
    {
        float amax;
        if (Vector512.IsHardwareAccelerated)
        {
            var a = Vector512.Abs(Vector512.Load(x));
            var b = Vector512.Abs(Vector512.Load(x + 16));
            amax = Vector512.Max(a, b).ToScalarMax();
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256.Max(Vector256.Max(Vector256.Abs(Vector256.Load(x)), Vector256.Abs(Vector256.Load(x + 8))),
                Vector256.Max(Vector256.Abs(Vector256.Load(x + 16)), Vector256.Abs(Vector256.Load(x + 24))));
            amax = MaxAcross(m);
        }
        else
        {
            amax = 0;
            for (int i = 0; i < 32; i++)
            {
                amax = MathF.Max(amax, MathF.Abs(x[i]));
            }
        }
        float d = amax / 127f;
        scale = HalfVectors.RoundToHalf(d);
        float id = amax != 0 ? 127f / amax : 0f;
        int s = 0;
        for (int i = 0; i < 32; i++)
        {
            int v = (int)MathF.Round(x[i] * id, MidpointRounding.ToEven);
            q[i] = (sbyte)v;
            s += v;
        }
        sum = s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuantizeBlockQ8K(float* x, sbyte* q, out float scale, int* bsums)
    {
        float max = 0, amax = 0;
        for (int j = 0; j < 256; j++)
        {
            float ax = MathF.Abs(x[j]);
            if (ax > amax)
            {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0)
        {
            scale = 0;
            new Span<sbyte>(q, 256).Clear();
            new Span<int>(bsums, 16).Clear();
            return;
        }
        float iscale = -127f / max;
        for (int j = 0; j < 256; j++)
        {
            int v = (int)MathF.Round(iscale * x[j], MidpointRounding.ToEven);
            q[j] = (sbyte)Math.Min(127, v);
        }
        for (int j = 0; j < 16; j++)
        {
            int s = 0;
            for (int i = 0; i < 16; i++)
            {
                s += q[j * 16 + i];
            }
            bsums[j] = s;
        }
        scale = 1 / iscale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxAcross(Vector256<float> v)
    {
        float m = v[0];
        for (int i = 1; i < 8; i++)
        {
            m = MathF.Max(m, v[i]);
        }
        return m;
    }
}

internal static class VectorExtensions
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToScalarMax(this Vector512<float> v)
    {
        var m = Vector256.Max(v.GetLower(), v.GetUpper());
        var m2 = Vector128.Max(m.GetLower(), m.GetUpper());
        m2 = Vector128.Max(m2, Vector128.Shuffle(m2, Vector128.Create(2, 3, 0, 1)));
        m2 = Vector128.Max(m2, Vector128.Shuffle(m2, Vector128.Create(1, 0, 3, 2)));
        return m2.ToScalar();
    }
}
