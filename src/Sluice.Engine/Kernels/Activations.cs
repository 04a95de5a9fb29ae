using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sluice.Engine.Kernels;

/// <summary>Element-wise pieces of the feed-forward block.</summary>
public static unsafe class Activations
{
    // gate (n,), up (n,) -> out (n,) = silu(gate) * up ; out may alias gate
    public static void SiluMulReference(float* gate, float* up, float* output, int n)
    {
        for (int i = 0; i < n; i++)
        {
            float g = gate[i];
            output[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>
    /// output = silu(gate) * up in one pass (output may alias gate or up). The sigmoid takes e = e^-|g| (never above
    /// 1, from <see cref="Attention.ExpNonPositive(Vector512{float})"/>, about 1 ulp): 1 / (1 + e) for g &gt;= 0 and
    /// e / (1 + e) below. An infinite or NaN gate gives what the reference gives (+inf, NaN).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SiluMul(float* gate, float* up, float* output, int n)
    {
        int i = 0;
        if (Simd.Use512)
        {
            for (; i + 16 <= n; i += 16)
            {
                var g = Vector512.Load(gate + i);
                var e = Attention.ExpNonPositive(-Vector512.Abs(g));
                var r = Vector512<float>.One / (Vector512<float>.One + e);
                var sig = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(g, Vector512<float>.Zero), r, e * r);
                (g * sig * Vector512.Load(up + i)).Store(output + i);
            }
        }
        else if (Simd.Use256)
        {
            for (; i + 8 <= n; i += 8)
            {
                var g = Vector256.Load(gate + i);
                var e = Attention.ExpNonPositive(-Vector256.Abs(g));
                var r = Vector256<float>.One / (Vector256<float>.One + e);
                var sig = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(g, Vector256<float>.Zero), r, e * r);
                (g * sig * Vector256.Load(up + i)).Store(output + i);
            }
        }
        SiluMulReference(gate + i, up + i, output + i, n - i);
    }

    // x (n,) += y (n,)
    public static void AddInPlace(float* x, float* y, int n) =>
        TensorPrimitives.Add(new ReadOnlySpan<float>(x, n), new ReadOnlySpan<float>(y, n), new Span<float>(x, n));
}
