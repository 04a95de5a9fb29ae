using System.Runtime.Intrinsics;

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
                int j = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    // 4 pairs a vector: cos and sin of each pair twice over, the pair's partner by swapping neighbours;
                    // a * cos - b * sin and a * sin + b * cos as separate products and one add/subtract each (no FMA),
                    // the scalar loop's roundings
                    for (; j + 4 <= half; j += 4)
                    {
                        var c = Vector128.Load(cos + j);
                        var sn = Vector128.Load(sin + j);
                        var cc = Vector256.Create(Vector128.Shuffle(c, Vector128.Create(0, 0, 1, 1)), Vector128.Shuffle(c, Vector128.Create(2, 2, 3, 3)));
                        var ss = Vector256.Create(Vector128.Shuffle(sn, Vector128.Create(0, 0, 1, 1)), Vector128.Shuffle(sn, Vector128.Create(2, 2, 3, 3)));
                        var ab = Vector256.Load(v + 2 * j);
                        var ba = Vector256.Shuffle(ab, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6));
                        var p = ab * cc;
                        var q = ba * ss;
                        // even lanes: a cos - b sin; odd lanes: b cos + a sin
                        Vector256.ConditionalSelect(Vector256.Create(-1, 0, -1, 0, -1, 0, -1, 0).AsSingle(), p - q, p + q).Store(v + 2 * j);
                    }
                }
                for (int i = j; i < half; i++)
                {
                    float a = v[2 * i], b = v[2 * i + 1];
                    v[2 * i] = a * cos[i] - b * sin[i];
                    v[2 * i + 1] = a * sin[i] + b * cos[i];
                }
            }
            else
            {
                int j = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    for (; j + 8 <= half; j += 8)
                    {
                        var a = Vector256.Load(v + j);
                        var b = Vector256.Load(v + j + half);
                        var c = Vector256.Load(cos + j);
                        var sn = Vector256.Load(sin + j);
                        (a * c - b * sn).Store(v + j);
                        (a * sn + b * c).Store(v + j + half);
                    }
                }
                for (int i = j; i < half; i++)
                {
                    float a = v[i], b = v[i + half];
                    v[i] = a * cos[i] - b * sin[i];
                    v[i + half] = a * sin[i] + b * cos[i];
                }
            }
        }
    }
}
