using Sluice.Engine.Caching;
using Sluice.Engine.Kernels;
using Sluice.Engine.Quantization.Codecs;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Tests.Kernels;

[Trait("Category", "Kernels")]
public sealed unsafe class AttentionTests
{
    /// <summary>Paged, online-softmax attention equals plain softmax attention over the same keys and values.</summary>
    [Theory]
    [InlineData(KvCacheType.F32, 1)]
    [InlineData(KvCacheType.F32, 37)]
    [InlineData(KvCacheType.F16, 16)]
    [InlineData(KvCacheType.F16, 53)]
    [InlineData(KvCacheType.Q8_0, 16)]
    [InlineData(KvCacheType.Q8_0, 45)]
    public void Paged_MatchesPlainSoftmaxAttention(KvCacheType type, int ctx)
    {
        const int Heads = 4, KvHeads = 2, Hd = 32, Bs = 16;
        int blocks = (ctx + Bs - 1) / Bs;
        var rng = new Random(ctx);
        // a scattered block table: blocks need not be contiguous or ordered
        var table = Enumerable.Range(0, blocks + 3).OrderBy(_ => rng.Next()).Take(blocks).ToArray();
        using var cache = new PagedKvCache(1, KvHeads, Hd, Bs, blocks + 3, type);
        var keys = RandomBlocks.Floats(ctx * KvHeads * Hd, rng, 2f);
        var values = RandomBlocks.Floats(ctx * KvHeads * Hd, rng, 2f);
        fixed (float* kp = keys, vp = values)
        {
            for (int p = 0; p < ctx; p++)
            {
                Attention.Store(cache, 0, table[p / Bs], p % Bs, kp + p * KvHeads * Hd, vp + p * KvHeads * Hd);
            }
        }
        if (type == KvCacheType.F16)
        {
            // the reference sees what the cache holds
            for (int i = 0; i < keys.Length; i++)
            {
                keys[i] = HalfVectors.RoundToHalf(keys[i]);
                values[i] = HalfVectors.RoundToHalf(values[i]);
            }
        }
        else if (type == KvCacheType.Q8_0)
        {
            var bytes = new byte[keys.Length / 32 * 34];
            foreach (var a in new[] { keys, values })
            {
                Q8_0Codec.QuantizeLikeX86Backend(a, bytes);
                Q8_0Codec.Dequantize(bytes, a);
            }
        }
        var q = RandomBlocks.Floats(Heads * Hd, rng, 2f);
        var output = new float[Heads * Hd];
        using var pool = new WorkerPool(2);
        fixed (float* qp = q, op = output)
        {
            new Attention().Run(pool, cache, 0, qp, op, 1, Heads, [ctx - 1], [table]);
        }
        for (int h = 0; h < Heads; h++)
        {
            int kvh = h / (Heads / KvHeads);
            var scores = new double[ctx];
            for (int p = 0; p < ctx; p++)
            {
                double s = 0;
                for (int i = 0; i < Hd; i++)
                {
                    s += q[h * Hd + i] * keys[(p * KvHeads + kvh) * Hd + i];
                }
                scores[p] = s / Math.Sqrt(Hd);
            }
            double max = scores.Max();
            var w = scores.Select(s => Math.Exp(s - max)).ToArray();
            double sum = w.Sum();
            for (int i = 0; i < Hd; i++)
            {
                double expected = 0;
                for (int p = 0; p < ctx; p++)
                {
                    expected += w[p] / sum * values[(p * KvHeads + kvh) * Hd + i];
                }
                Assert.Equal(expected, output[h * Hd + i], 1e-4);
            }
        }
    }
}
