using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sluice.Engine.Kernels;

/// <summary>Float dot products (attention scores), with a plain scalar reference.</summary>
public static unsafe class FloatDot
{
    // sum_i w[i] * x[i]
    public static float F32Reference(float* w, float* x, int n)
    {
        float s = 0;
        for (int i = 0; i < n; i++)
        {
            s += w[i] * x[i];
        }
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F32(float* w, float* x, int n)
    {
        int i = 0;
        float sum = 0;
        if (Simd.Use512)
        {
            Vector512<float> a0 = default, a1 = default;
            for (; i + 32 <= n; i += 32)
            {
                a0 = Simd.Fma512(Vector512.Load(w + i), Vector512.Load(x + i), a0);
                a1 = Simd.Fma512(Vector512.Load(w + i + 16), Vector512.Load(x + i + 16), a1);
            }
            for (; i + 16 <= n; i += 16)
            {
                a0 = Simd.Fma512(Vector512.Load(w + i), Vector512.Load(x + i), a0);
            }
            sum = Vector512.Sum(a0 + a1);
        }
        else if (Simd.Use256)
        {
            Vector256<float> a0 = default, a1 = default;
            for (; i + 16 <= n; i += 16)
            {
                a0 = Simd.Fma256(Vector256.Load(w + i), Vector256.Load(x + i), a0);
                a1 = Simd.Fma256(Vector256.Load(w + i + 8), Vector256.Load(x + i + 8), a1);
            }
            for (; i + 8 <= n; i += 8)
            {
                a0 = Simd.Fma256(Vector256.Load(w + i), Vector256.Load(x + i), a0);
            }
            sum = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++)
        {
            sum += w[i] * x[i];
        }
        return sum;
    }
}
