using System.Numerics.Tensors;

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

    public static void SiluMul(float* gate, float* up, float* output, int n)
    {
        // silu(g) = g * sigmoid(g); chunked through a stack buffer so output may alias either input
        Span<float> t = stackalloc float[256];
        for (int i = 0; i < n; i += 256)
        {
            int len = Math.Min(256, n - i);
            var g = new ReadOnlySpan<float>(gate + i, len);
            var tc = t[..len];
            TensorPrimitives.Sigmoid(g, tc);
            TensorPrimitives.Multiply(tc, g, tc);
            TensorPrimitives.Multiply(tc, new ReadOnlySpan<float>(up + i, len), new Span<float>(output + i, len));
        }
    }

    // x (n,) += y (n,)
    public static void AddInPlace(float* x, float* y, int n) =>
        TensorPrimitives.Add(new ReadOnlySpan<float>(x, n), new ReadOnlySpan<float>(y, n), new Span<float>(x, n));
}
