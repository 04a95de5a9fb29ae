using System.Numerics.Tensors;

namespace Sluice.Engine.Kernels;

/// <summary>RMSNorm: y = x / sqrt(mean(x^2) + eps) * weight, per row.</summary>
public static unsafe class Norms
{
    // x (n,) , weight (n,) -> y (n,); y may alias x
    public static void RmsNormReference(float* x, float* weight, float* y, int n, float eps)
    {
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += (double)(x[i] * x[i]);
        }
        float scale = 1f / MathF.Sqrt((float)(sum / n) + eps);
        for (int i = 0; i < n; i++)
        {
            y[i] = x[i] * scale * weight[i];
        }
    }

    public static void RmsNorm(float* x, float* weight, float* y, int n, float eps)
    {
        var xs = new ReadOnlySpan<float>(x, n);
        float mean = TensorPrimitives.SumOfSquares(xs) / n;
        float scale = 1f / MathF.Sqrt(mean + eps);
        var ys = new Span<float>(y, n);
        TensorPrimitives.Multiply(xs, scale, ys);
        TensorPrimitives.Multiply(ys, new ReadOnlySpan<float>(weight, n), ys);
    }
}
