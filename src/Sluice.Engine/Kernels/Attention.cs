using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Sluice.Engine.Caching;
using Sluice.Engine.Kernels.Gemm;
using Sluice.Engine.Quantization;
using Sluice.Engine.Quantization.Codecs;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Causal attention of a ragged batch over the paged KV cache. One work item is one token and one
/// KV head: the query heads that share that KV head (GQA) read each key and value block once.
/// Softmax is computed online block by block (running max and sum), so no score buffer the size of
/// the context is needed.
/// </summary>
public sealed unsafe class Attention : IParallelWork
{
    private PagedKvCache _cache = null!;
    private int _layer;
    private float* _q;     // (n, heads, headDim)
    private float* _out;   // (n, heads, headDim)
    private int[] _positions = [];      // (n,)
    private int[][] _blockTables = [];  // per token: its sequence's block table
    private int _heads;
    private float _scale;

    public void Run(WorkerPool pool, PagedKvCache cache, int layer, float* q, float* output, int n, int heads,
        int[] positions, int[][] blockTables)
    {
        _cache = cache;
        _layer = layer;
        _q = q;
        _out = output;
        _positions = positions;
        _blockTables = blockTables;
        _heads = heads;
        _scale = 1f / MathF.Sqrt(cache.HeadDim);
        pool.Run(this, n * cache.KvHeads);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int index)
    {
        int kvHeads = _cache.KvHeads;
        int t = index / kvHeads;
        int kvh = index % kvHeads;
        int group = _heads / kvHeads;
        int hd = _cache.HeadDim;
        int bs = _cache.BlockSize;
        int ctx = _positions[t] + 1;
        int[] table = _blockTables[t];
        var kvType = _cache.Type;
        bool f16 = kvType != KvCacheType.F32;

        // per query head: running max, running sum, output accumulator
        Span<float> maxes = stackalloc float[group];
        Span<float> sums = stackalloc float[group];
        float* scores = stackalloc float[bs];
        // an F16 or Q8_0 block's keys and values widened once for all the group's query heads
        float* kf = stackalloc float[f16 ? bs * hd : 0];
        float* vf = stackalloc float[f16 ? bs * hd : 0];
        float* q0 = _q + ((long)t * _heads + kvh * group) * hd;
        float* o0 = _out + ((long)t * _heads + kvh * group) * hd;
        maxes.Fill(float.NegativeInfinity);
        sums.Clear();
        new Span<float>(o0, group * hd).Clear();

        for (int start = 0; start < ctx; start += bs)
        {
            int block = table[start / bs];
            int count = Math.Min(bs, ctx - start);
            // (count, headDim) rows of this block and head, contiguous in the cache
            float* keys, values;
            if (kvType == KvCacheType.F16)
            {
                Widen((ushort*)_cache.Key(_layer, block, kvh, 0), kf, count * hd);
                Widen((ushort*)_cache.Value(_layer, block, kvh, 0), vf, count * hd);
                keys = kf;
                values = vf;
            }
            else if (kvType == KvCacheType.Q8_0)
            {
                // rows of whole Q8_0 blocks follow each other, so a block's rows expand as one run
                RowDequantizer.Dequantize(GgmlType.Q8_0, _cache.Key(_layer, block, kvh, 0), 0, count * hd, kf);
                RowDequantizer.Dequantize(GgmlType.Q8_0, _cache.Value(_layer, block, kvh, 0), 0, count * hd, vf);
                keys = kf;
                values = vf;
            }
            else
            {
                keys = (float*)_cache.Key(_layer, block, kvh, 0);
                values = (float*)_cache.Value(_layer, block, kvh, 0);
            }
            for (int g = 0; g < group; g++)
            {
                float* q = q0 + g * hd;
                float* o = o0 + g * hd;
                float blockMax = float.NegativeInfinity;
                for (int j = 0; j < count; j++)
                {
                    float sc = FloatDot.F32(keys + j * hd, q, hd) * _scale;
                    scores[j] = sc;
                    blockMax = MathF.Max(blockMax, sc);
                }
                float newMax = MathF.Max(maxes[g], blockMax);
                float correction = MathF.Exp(maxes[g] - newMax);
                if (correction != 1f)
                {
                    Scale(o, hd, correction);
                }
                float sum = sums[g] * correction;
                for (int j = 0; j < count; j++)
                {
                    float p = MathF.Exp(scores[j] - newMax);
                    sum += p;
                    Axpy(o, values + j * hd, p, hd);
                }
                sums[g] = sum;
                maxes[g] = newMax;
            }
        }
        for (int g = 0; g < group; g++)
        {
            Scale(o0 + g * hd, hd, 1f / sums[g]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen(ushort* src, float* dst, int n)
    {
        int i = 0;
        if (Simd.Use512)
        {
            for (; i + 16 <= n; i += 16)
            {
                HalfVectors.ToFloat(Vector256.Load(src + i)).Store(dst + i);
            }
        }
        for (; i < n; i++)
        {
            dst[i] = Fp16.ToFloat(src[i]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(float* x, int n, float s)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(s);
            for (; i + 8 <= n; i += 8)
            {
                (Vector256.Load(x + i) * vs).Store(x + i);
            }
        }
        for (; i < n; i++)
        {
            x[i] *= s;
        }
    }

    // o += p * v
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float* o, float* v, float p, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vp = Vector512.Create(p);
            for (; i + 16 <= n; i += 16)
            {
                (Vector512.Load(o + i) + Vector512.Load(v + i) * vp).Store(o + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vp = Vector256.Create(p);
            for (; i + 8 <= n; i += 8)
            {
                (Vector256.Load(o + i) + Vector256.Load(v + i) * vp).Store(o + i);
            }
        }
        for (; i < n; i++)
        {
            o[i] += p * v[i];
        }
    }

    /// <summary>Writes one token's keys and values (kvHeads x headDim each) into its slot.</summary>
    public static void Store(PagedKvCache cache, int layer, int block, int slot, float* k, float* v)
    {
        int hd = cache.HeadDim;
        for (int h = 0; h < cache.KvHeads; h++)
        {
            byte* kd = cache.Key(layer, block, h, slot);
            byte* vd = cache.Value(layer, block, h, slot);
            if (cache.Type == KvCacheType.Q8_0)
            {
                Q8_0Codec.QuantizeLikeX86Backend(new ReadOnlySpan<float>(k + h * hd, hd), new Span<byte>(kd, cache.RowBytes));
                Q8_0Codec.QuantizeLikeX86Backend(new ReadOnlySpan<float>(v + h * hd, hd), new Span<byte>(vd, cache.RowBytes));
            }
            else if (cache.Type == KvCacheType.F16)
            {
                for (int i = 0; i < hd; i++)
                {
                    ((ushort*)kd)[i] = Fp16.FromFloat(k[h * hd + i]);
                    ((ushort*)vd)[i] = Fp16.FromFloat(v[h * hd + i]);
                }
            }
            else
            {
                new ReadOnlySpan<float>(k + h * hd, hd).CopyTo(new Span<float>(kd, hd));
                new ReadOnlySpan<float>(v + h * hd, hd).CopyTo(new Span<float>(vd, hd));
            }
        }
    }
}
