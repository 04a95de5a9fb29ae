using Sluice.Engine.Caching;
using Sluice.Engine.Kernels;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Models;

/// <summary>
/// The forward pass of llama-family decoders (llama, qwen2, qwen3) over a ragged batch and a paged KV
/// cache. Written once over <see cref="WeightMatrix"/>, whatever the weight types. Scratch buffers are
/// sized for the largest batch seen and reused, so a step allocates nothing.
/// </summary>
public sealed unsafe class Transformer : IDisposable
{
    private readonly ModelWeights _w;
    private readonly ModelConfig _c;
    private readonly WorkerPool _pool;
    private readonly MatMul _matmul;
    private readonly Attention _attention = new();
    private readonly MatMulInput _input = new();
    private readonly RowOps _rowOps;

    // Scratch, capacity _cap tokens
    private int _cap;
    private readonly NativeBuffer<float> _x = new(0);      // (n, d) residual stream
    private readonly NativeBuffer<float> _xb = new(0);     // (n, d) normed input / block output
    private readonly NativeBuffer<float> _q = new(0);      // (n, heads * headDim)
    private readonly NativeBuffer<float> _k = new(0);      // (n, kvHeads * headDim)
    private readonly NativeBuffer<float> _v = new(0);      // (n, kvHeads * headDim)
    private readonly NativeBuffer<float> _attn = new(0);   // (n, heads * headDim)
    private readonly NativeBuffer<float> _gate = new(0);   // (n, ffn)
    private readonly NativeBuffer<float> _up = new(0);     // (n, ffn)
    private readonly NativeBuffer<float> _cos = new(0);    // (n, headDim / 2)
    private readonly NativeBuffer<float> _sin = new(0);    // (n, headDim / 2)

    public Transformer(ModelWeights weights, WorkerPool pool)
    {
        _w = weights;
        _c = weights.Config;
        _pool = pool;
        _matmul = new MatMul(pool);
        _rowOps = new RowOps(this);
    }

    public ModelConfig Config => _c;

    /// <summary>When set, each forward pass adds its per-phase times here.</summary>
    public ForwardProfile? Profile { get; set; }
    public ModelWeights Weights => _w;

    /// <summary>
    /// Runs the batch: writes its keys/values into the cache and, for each of its logit tokens in
    /// order, vocab-size logits into <paramref name="logits"/> (LogitCount, vocab), and for each of its hidden tokens
    /// the final hidden state after the output norm into <paramref name="hidden"/> (HiddenCount, d).
    /// </summary>
    public void Forward(ForwardBatch batch, PagedKvCache cache, float* logits, float* hidden = null)
    {
        int n = batch.Count;
        if (n == 0)
        {
            return;
        }
        EnsureCapacity(n);
        int d = _c.EmbeddingLength;
        int hd = _c.HeadDim;
        int qDim = _c.HeadCount * hd;
        int kvDim = _c.HeadCountKv * hd;
        int ff = _c.FeedForwardLength;
        var prof = Profile;
        prof?.Start();

        for (int t = 0; t < n; t++)
        {
            int token = batch.Tokens[t];
            if ((uint)token >= (uint)_c.VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(batch), $"token id {token} is outside the vocabulary (0..{_c.VocabSize - 1})");
            }
            RowDecoder.Decode(_w.TokenEmbedding.Type, _w.TokenEmbedding.Row(token), _x.Pointer + (long)t * d, d);
            RopeAngles(batch.Positions[t], _cos.Pointer + t * (hd / 2), _sin.Pointer + t * (hd / 2));
        }
        prof?.Mark(0);

        for (int l = 0; l < _c.BlockCount; l++)
        {
            var lw = _w.Layers[l];
            _rowOps.Norm(_x.Pointer, _xb.Pointer, lw.AttnNorm, n, d);
            prof?.Mark(1);
            _input.Set(_xb.Pointer, n, d);
            _matmul.Run(lw.Q, _input, _q.Pointer, qDim);
            _matmul.Run(lw.K, _input, _k.Pointer, kvDim);
            _matmul.Run(lw.V, _input, _v.Pointer, kvDim);
            prof?.Mark(2);
            _rowOps.PrepareQkv(lw, batch, cache, l, n);
            prof?.Mark(3);
            _attention.Run(_pool, cache, l, _q.Pointer, _attn.Pointer, n, _c.HeadCount, batch.Positions, batch.BlockTables);
            prof?.Mark(4);
            _input.Set(_attn.Pointer, n, qDim);
            _matmul.Run(lw.O, _input, _xb.Pointer, d);
            prof?.Mark(5);
            Activations.AddInPlace(_x.Pointer, _xb.Pointer, n * d);
            prof?.Mark(9);

            _rowOps.Norm(_x.Pointer, _xb.Pointer, lw.FfnNorm, n, d);
            prof?.Mark(1);
            _input.Set(_xb.Pointer, n, d);
            _matmul.Run(lw.Gate, _input, _gate.Pointer, ff);
            _matmul.Run(lw.Up, _input, _up.Pointer, ff);
            prof?.Mark(6);
            _rowOps.SiluMul(_gate.Pointer, _up.Pointer, n, ff);
            prof?.Mark(7);
            _input.Set(_gate.Pointer, n, ff);
            _matmul.Run(lw.Down, _input, _xb.Pointer, d);
            prof?.Mark(8);
            Activations.AddInPlace(_x.Pointer, _xb.Pointer, n * d);
            prof?.Mark(9);
        }

        if (batch.HiddenCount > 0)
        {
            if (hidden == null)
            {
                throw new ArgumentNullException(nameof(hidden), "the batch wants hidden states but no buffer was given");
            }
            fixed (float* wn = _w.OutputNorm)
            {
                for (int i = 0; i < batch.HiddenCount; i++)
                {
                    Norms.RmsNorm(_x.Pointer + (long)batch.HiddenTokens[i] * d, wn, hidden + (long)i * d, d, _c.RmsNormEps);
                }
            }
        }
        int nOut = batch.LogitCount;
        if (nOut == 0)
        {
            return;
        }
        for (int i = 0; i < nOut; i++)
        {
            int t = batch.LogitTokens[i];
            fixed (float* wn = _w.OutputNorm)
            {
                Norms.RmsNorm(_x.Pointer + (long)t * d, wn, _xb.Pointer + (long)i * d, d, _c.RmsNormEps);
            }
        }
        _input.Set(_xb.Pointer, nOut, d);
        _matmul.Run(_w.Output, _input, logits, _c.VocabSize);
        prof?.Mark(10);
    }

    private void RopeAngles(int position, float* cos, float* sin)
    {
        int half = _c.HeadDim / 2;
        float step = MathF.Pow(_c.RopeFreqBase, -2.0f / _c.HeadDim);
        float theta = position / _c.RopeScale;
        var factors = _w.RopeFrequencyFactors;
        for (int i = 0; i < half; i++)
        {
            float th = factors != null ? theta / factors[i] : theta;
            cos[i] = MathF.Cos(th);
            sin[i] = MathF.Sin(th);
            theta *= step;
        }
    }

    private void EnsureCapacity(int n)
    {
        if (n <= _cap)
        {
            return;
        }
        int cap = Math.Max(n, 16);
        int d = _c.EmbeddingLength, hd = _c.HeadDim;
        _x.EnsureCapacity((long)cap * d);
        _xb.EnsureCapacity((long)cap * d);
        _q.EnsureCapacity((long)cap * _c.HeadCount * hd);
        _k.EnsureCapacity((long)cap * _c.HeadCountKv * hd);
        _v.EnsureCapacity((long)cap * _c.HeadCountKv * hd);
        _attn.EnsureCapacity((long)cap * _c.HeadCount * hd);
        _gate.EnsureCapacity((long)cap * _c.FeedForwardLength);
        _up.EnsureCapacity((long)cap * _c.FeedForwardLength);
        _cos.EnsureCapacity((long)cap * hd / 2);
        _sin.EnsureCapacity((long)cap * hd / 2);
        _cap = cap;
    }

    public void Dispose()
    {
        _matmul.Dispose();
        _input.Dispose();
        foreach (var b in new[] { _x, _xb, _q, _k, _v, _attn, _gate, _up, _cos, _sin })
        {
            b.Dispose();
        }
    }

    /// <summary>Per-token work spread over the pool: norms, the gated activation, and bias/q-k-norm/RoPE/KV store.</summary>
    private sealed class RowOps(Transformer m) : IParallelWork
    {
        private int _mode;
        private float* _src, _dst;
        private float[] _weight = [];
        private int _width;
        private LayerWeights _lw = null!;
        private ForwardBatch _batch = null!;
        private PagedKvCache _cache = null!;
        private int _layer;

        public void Norm(float* src, float* dst, float[] weight, int n, int width)
        {
            _mode = 0;
            _src = src;
            _dst = dst;
            _weight = weight;
            _width = width;
            m._pool.Run(this, n);
        }

        /// <summary>gate = silu(gate) * up, row by row.</summary>
        public void SiluMul(float* gate, float* up, int n, int width)
        {
            _mode = 2;
            _src = up;
            _dst = gate;
            _width = width;
            m._pool.Run(this, n);
        }

        public void PrepareQkv(LayerWeights lw, ForwardBatch batch, PagedKvCache cache, int layer, int n)
        {
            _mode = 1;
            _lw = lw;
            _batch = batch;
            _cache = cache;
            _layer = layer;
            m._pool.Run(this, n);
        }

        public void Execute(int t)
        {
            if (_mode == 0)
            {
                fixed (float* w = _weight)
                {
                    Norms.RmsNorm(_src + (long)t * _width, w, _dst + (long)t * _width, _width, m._c.RmsNormEps);
                }
                return;
            }
            if (_mode == 2)
            {
                float* g = _dst + (long)t * _width;
                Activations.SiluMul(g, _src + (long)t * _width, g, _width);
                return;
            }
            var c = m._c;
            int hd = c.HeadDim;
            int qDim = c.HeadCount * hd, kvDim = c.HeadCountKv * hd;
            float* q = m._q.Pointer + (long)t * qDim;
            float* k = m._k.Pointer + (long)t * kvDim;
            float* v = m._v.Pointer + (long)t * kvDim;
            AddBias(q, _lw.QBias, qDim);
            AddBias(k, _lw.KBias, kvDim);
            AddBias(v, _lw.VBias, kvDim);
            if (_lw.QNorm != null && _lw.KNorm != null)
            {
                fixed (float* qn = _lw.QNorm, kn = _lw.KNorm)
                {
                    for (int h = 0; h < c.HeadCount; h++)
                    {
                        Norms.RmsNorm(q + h * hd, qn, q + h * hd, hd, c.RmsNormEps);
                    }
                    for (int h = 0; h < c.HeadCountKv; h++)
                    {
                        Norms.RmsNorm(k + h * hd, kn, k + h * hd, hd, c.RmsNormEps);
                    }
                }
            }
            float* cos = m._cos.Pointer + t * (hd / 2);
            float* sin = m._sin.Pointer + t * (hd / 2);
            Rope.Apply(q, c.HeadCount, hd, cos, sin, c.RopeLayout);
            Rope.Apply(k, c.HeadCountKv, hd, cos, sin, c.RopeLayout);
            int pos = _batch.Positions[t];
            int bs = _cache.BlockSize;
            Attention.Store(_cache, _layer, _batch.BlockTables[t][pos / bs], pos % bs, k, v);
        }

        private static void AddBias(float* x, float[]? bias, int n)
        {
            if (bias == null)
            {
                return;
            }
            fixed (float* b = bias)
            {
                Activations.AddInPlace(x, b, n);
            }
        }
    }
}
