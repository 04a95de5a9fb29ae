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
    [InlineData(KvCacheType.F32, 1, 32)]
    [InlineData(KvCacheType.F32, 37, 32)]
    [InlineData(KvCacheType.F16, 16, 32)]
    [InlineData(KvCacheType.F16, 53, 32)]
    [InlineData(KvCacheType.Q8_0, 16, 32)]
    [InlineData(KvCacheType.Q8_0, 45, 32)]
    [InlineData(KvCacheType.F32, 21, 64)]
    [InlineData(KvCacheType.F16, 53, 64)]
    [InlineData(KvCacheType.Q8_0, 40, 64)]
    // blocks that are not a whole number of vectors (the 64-wide form pads the keys it transposes)
    [InlineData(KvCacheType.F16, 53, 64, 5)]
    [InlineData(KvCacheType.F32, 70, 64, 24)]
    // contexts of several 64-key spans (the 64-wide form's softmax steps)
    [InlineData(KvCacheType.F16, 150, 64)]
    [InlineData(KvCacheType.Q8_0, 130, 64, 5)]
    public void Paged_MatchesPlainSoftmaxAttention(KvCacheType type, int ctx, int hd, int Bs = 16)
    {
        const int Heads = 4, KvHeads = 2;
        int blocks = (ctx + Bs - 1) / Bs;
        var rng = new Random(ctx);
        // a scattered block table: blocks need not be contiguous or ordered
        var table = Enumerable.Range(0, blocks + 3).OrderBy(_ => rng.Next()).Take(blocks).ToArray();
        using var cache = new PagedKvCache(1, KvHeads, hd, Bs, blocks + 3, type);
        var keys = RandomBlocks.Floats(ctx * KvHeads * hd, rng, 2f);
        var values = RandomBlocks.Floats(ctx * KvHeads * hd, rng, 2f);
        fixed (float* kp = keys, vp = values)
        {
            for (int p = 0; p < ctx; p++)
            {
                Attention.Store(cache, 0, table[p / Bs], p % Bs, kp + p * KvHeads * hd, vp + p * KvHeads * hd);
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
        var q = RandomBlocks.Floats(Heads * hd, rng, 2f);
        var output = new float[Heads * hd];
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
                for (int i = 0; i < hd; i++)
                {
                    s += q[h * hd + i] * keys[(p * KvHeads + kvh) * hd + i];
                }
                scores[p] = s / Math.Sqrt(hd);
            }
            double max = scores.Max();
            var w = scores.Select(s => Math.Exp(s - max)).ToArray();
            double sum = w.Sum();
            for (int i = 0; i < hd; i++)
            {
                double expected = 0;
                for (int p = 0; p < ctx; p++)
                {
                    expected += w[p] / sum * values[(p * KvHeads + kvh) * hd + i];
                }
                Assert.Equal(expected, output[h * hd + i], 1e-4);
            }
        }
    }

    /// <summary>
    /// A batch of two sequences' prompt tokens (several tiles each, interleaved with the other sequence)
    /// gives bitwise what each token gives alone: tiles share key and value reads, not arithmetic.
    /// </summary>
    [Theory]
    [InlineData(KvCacheType.F16, 64)]
    [InlineData(KvCacheType.F32, 64)]
    [InlineData(KvCacheType.Q8_0, 32)]
    [InlineData(KvCacheType.F16, 64, 5)]
    [InlineData(KvCacheType.F32, 64, 40)]
    [InlineData(KvCacheType.F16, 64, 16, 150)]
    [InlineData(KvCacheType.F16, 64, 24, 100)]
    public void Tiles_EqualTokensAlone(KvCacheType type, int hd, int Bs = 16, int LenA = 37)
    {
        const int Heads = 6, KvHeads = 2, LenB = 20;
        var rng = new Random(hd);
        int blocksA = (LenA + Bs - 1) / Bs, blocksB = (LenB + Bs - 1) / Bs;
        int[] tableA = Enumerable.Range(0, blocksA).ToArray();
        int[] tableB = Enumerable.Range(blocksA, blocksB).ToArray();
        using var cache = new PagedKvCache(1, KvHeads, hd, Bs, blocksA + blocksB, type);
        var kv = RandomBlocks.Floats(2 * KvHeads * hd, rng, 2f);
        fixed (float* kp = kv)
        {
            foreach (var (table, len) in new[] { (tableA, LenA), (tableB, LenB) })
            {
                for (int p = 0; p < len; p++)
                {
                    for (int i = 0; i < kv.Length; i++)
                    {
                        kv[i] = (float)(rng.NextDouble() * 4 - 2);
                    }
                    Attention.Store(cache, 0, table[p / Bs], p % Bs, kp, kp + KvHeads * hd);
                }
            }
        }
        // batch: all of A's tokens, then B's last 13 (a chunk that starts mid-sequence)
        var positions = Enumerable.Range(0, LenA).Concat(Enumerable.Range(LenB - 13, 13)).ToArray();
        var tables = positions.Select((_, t) => t < LenA ? tableA : tableB).ToArray();
        int n = positions.Length;
        var q = RandomBlocks.Floats(n * Heads * hd, rng, 2f);
        var together = new float[n * Heads * hd];
        var alone = new float[n * Heads * hd];
        using var pool = new WorkerPool(2);
        var attention = new Attention();
        fixed (float* qp = q, yt = together, ya = alone)
        {
            attention.Run(pool, cache, 0, qp, yt, n, Heads, positions, tables);
            for (int t = 0; t < n; t++)
            {
                attention.Run(pool, cache, 0, qp + t * Heads * hd, ya + t * Heads * hd, 1, Heads, [positions[t]], [tables[t]]);
            }
        }
        for (int i = 0; i < together.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(together[i]) == BitConverter.SingleToInt32Bits(alone[i]),
                $"output {i} (token {i / (Heads * hd)}): batched {together[i]:R}, alone {alone[i]:R}");
        }
    }

    [Fact]
    public void ExpNonPositive_IsWithinTwoUlps_AndZeroFarBelow()
    {
        if (!Simd.Use512)
        {
            return; // the AVX-512 softmax path only
        }
        var xs = ExpArguments();
        for (int i = 0; i + 16 <= xs.Count; i += 16)
        {
            var v = System.Runtime.Intrinsics.Vector512.Create(xs.GetRange(i, 16).ToArray());
            var e = Attention.ExpNonPositive(v);
            for (int j = 0; j < 16; j++)
            {
                double exact = Math.Exp(xs[i + j]);
                Assert.True(Math.Abs(e[j] - exact) <= 2.5e-7 * exact, $"exp({xs[i + j]:R}) = {e[j]:R}, exact {exact:R}");
            }
        }
        var far = Attention.ExpNonPositive(System.Runtime.Intrinsics.Vector512.Create(float.NegativeInfinity));
        Assert.Equal(0f, far[0]);
        Assert.Equal(0f, Attention.ExpNonPositive(System.Runtime.Intrinsics.Vector512.Create(-100f))[3]);
        Assert.Equal(1f, Attention.ExpNonPositive(System.Runtime.Intrinsics.Vector512<float>.Zero)[0]);
    }

    [Fact]
    public void ExpNonPositiveAvx2_IsWithinTwoUlps_AndZeroFarBelow()
    {
        if (!Simd.Use256)
        {
            return; // the AVX2 softmax path only
        }
        var xs = ExpArguments();
        for (int i = 0; i + 8 <= xs.Count; i += 8)
        {
            var e = Attention.ExpNonPositive(System.Runtime.Intrinsics.Vector256.Create(xs.GetRange(i, 8).ToArray()));
            for (int j = 0; j < 8; j++)
            {
                double exact = Math.Exp(xs[i + j]);
                Assert.True(Math.Abs(e[j] - exact) <= 2.5e-7 * exact, $"exp({xs[i + j]:R}) = {e[j]:R}, exact {exact:R}");
            }
        }
        Assert.Equal(0f, Attention.ExpNonPositive(System.Runtime.Intrinsics.Vector256.Create(float.NegativeInfinity))[0]);
        Assert.Equal(0f, Attention.ExpNonPositive(System.Runtime.Intrinsics.Vector256.Create(-100f))[3]);
        Assert.Equal(1f, Attention.ExpNonPositive(System.Runtime.Intrinsics.Vector256<float>.Zero)[0]);
    }

    private static List<float> ExpArguments()
    {
        var rng = new Random(5);
        var xs = new List<float> { 0f, -0f, -1e-30f, -1e-7f, -0.5f, -0.34657359f, -0.6931472f, -1f, -10f, -50f, -87f };
        for (int i = 0; i < 20000; i++)
        {
            xs.Add(-(float)(rng.NextDouble() * 87));
        }
        return xs;
    }
}
