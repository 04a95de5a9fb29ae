namespace Sluice.Engine.Serving;

/// <summary>
/// One embedding sequence's pooling state across its prefill chunks: the sum of hidden rows (mean) or the last row.
/// Reset when its prefill starts again (after a preemption), so a recomputed chunk is not counted twice.
/// </summary>
public sealed unsafe class EmbeddingAccumulator(EmbeddingSpec spec, int width)
{
    private readonly double[] _sum = new double[width]; // (width,)
    private int _rows;

    public EmbeddingSpec Spec => spec;

    /// <summary>True when every prompt token's hidden state is wanted, not only the last one's.</summary>
    public bool WantsEveryToken => spec.Pooling == EmbeddingPooling.Mean;

    public void Reset()
    {
        Array.Clear(_sum);
        _rows = 0;
    }

    /// <summary>Takes one hidden row (width,): added for mean pooling, kept for last-token pooling.</summary>
    public void Add(float* row)
    {
        if (spec.Pooling == EmbeddingPooling.Last)
        {
            Array.Clear(_sum);
            _rows = 0;
        }
        for (int i = 0; i < _sum.Length; i++)
        {
            _sum[i] += row[i];
        }
        _rows++;
    }

    /// <summary>The pooled vector, L2-normalized when the spec says so.</summary>
    public float[] Result()
    {
        if (_rows == 0)
        {
            throw new InvalidOperationException("no hidden state was pooled");
        }
        var v = new float[_sum.Length];
        double norm = 0;
        for (int i = 0; i < v.Length; i++)
        {
            double x = _sum[i] / _rows;
            norm += x * x;
        }
        double scale = spec.Normalize ? 1 / Math.Max(Math.Sqrt(norm), 1e-12) : 1;
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)(_sum[i] / _rows * scale);
        }
        return v;
    }
}
