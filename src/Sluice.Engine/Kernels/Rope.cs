namespace Sluice.Engine.Kernels;

/// <summary>How rotary embedding pairs the dimensions of a head.</summary>
public enum RopeLayout
{
    /// <summary>llama.cpp's "normal" RoPE (llama): rotates adjacent pairs (x[2i], x[2i+1]).</summary>
    Normal,

    /// <summary>NeoX RoPE (qwen2, qwen3): rotates (x[i], x[i + d/2]).</summary>
    NeoX,
}

/// <summary>
/// Rotary position embedding. The angle for pair i at position p is p * base^(-2i/d), computed as
/// llama.cpp does (a float theta multiplied by a float step per pair), with cos/sin per position
/// computed once per forward pass and shared by every layer and head.
/// </summary>
public static unsafe class Rope
{
    /// <summary>Fills cos/sin tables (headDim/2 each) for one position.</summary>
    public static void Angles(int position, int headDim, float freqBase, float* cos, float* sin)
    {
        float step = MathF.Pow(freqBase, -2.0f / headDim);
        float theta = position;
        for (int i = 0; i < headDim / 2; i++)
        {
            cos[i] = MathF.Cos(theta);
            sin[i] = MathF.Sin(theta);
            theta *= step;
        }
    }

    // x (heads, headDim) rotated in place with cos/sin (headDim/2,)
    public static void Apply(float* x, int heads, int headDim, float* cos, float* sin, RopeLayout layout)
    {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++)
        {
            float* v = x + h * headDim;
            if (layout == RopeLayout.Normal)
            {
                for (int i = 0; i < half; i++)
                {
                    float a = v[2 * i], b = v[2 * i + 1];
                    v[2 * i] = a * cos[i] - b * sin[i];
                    v[2 * i + 1] = a * sin[i] + b * cos[i];
                }
            }
            else
            {
                for (int i = 0; i < half; i++)
                {
                    float a = v[i], b = v[i + half];
                    v[i] = a * cos[i] - b * sin[i];
                    v[i + half] = a * sin[i] + b * cos[i];
                }
            }
        }
    }
}
