using Sluice.Engine.Caching;
using Sluice.Engine.Models;
using Sluice.Engine.Serving;

namespace Sluice.Cli.Capacity;

/// <summary>The load `sluice capacity` sizes for: sequences at once, tokens each, and the cache layout.</summary>
internal sealed record CapacityLoad(int Concurrency, int PromptTokens, int OutputTokens, int BlockSize, KvCacheType CacheType, int MaxNumBatchedTokens)
{
    /// <summary>Prompt plus output: the --max-model-len the load needs.</summary>
    public int Context => PromptTokens + OutputTokens;
}

/// <summary>
/// Memory for a model at a load, counted the way <see cref="LlmEngine"/> allocates it: the weights, the paged KV
/// cache (whole blocks per sequence), and the step buffers that grow with the batch; with a memory size, the
/// largest concurrency and context that fit.
/// </summary>
internal sealed record CapacityPlan(ModelConfig Config, long WeightBytes, CapacityLoad Load, long KvBytes, long StepBytes, long? Memory, int? MaxConcurrency, int? MaxContext)
{
    public long TotalBytes => WeightBytes + KvBytes + StepBytes;

    public bool Fits => Memory is not { } m || TotalBytes <= m;

    /// <summary>KV bytes per token of each cache type; null where the model's head dimension rules the type out.</summary>
    public static long? KvBytesPerToken(ModelConfig c, KvCacheType type)
    {
        if (type == KvCacheType.Q8_0 && c.HeadDim % 32 != 0)
        {
            return null;
        }
        return PagedKvCache.BytesPerBlock(c.BlockCount, c.HeadCountKv, c.HeadDim, 1, type);
    }

    public static CapacityPlan Compute(ModelConfig c, long weightBytes, CapacityLoad load, long? memory)
    {
        if (load.Context > c.ContextLength)
        {
            throw new ArgumentException($"--prompt-tokens {load.PromptTokens} plus --output-tokens {load.OutputTokens} is {load.Context} tokens, more than the model's context length {c.ContextLength}");
        }
        if (KvBytesPerToken(c, load.CacheType) is null)
        {
            throw new ArgumentException($"a q8_0 KV cache needs a head dimension that is a multiple of 32 (this model's is {c.HeadDim}); use f16");
        }
        long total(int concurrency, int context) => weightBytes + Kv(c, load, concurrency, context) + Step(c, load, concurrency);
        int? maxConcurrency = null, maxContext = null;
        if (memory is { } m)
        {
            maxConcurrency = Largest(EngineOptions.MaxSequences, n => total(n, load.Context) <= m);
            maxContext = Largest(c.ContextLength, n => total(load.Concurrency, n) <= m);
        }
        return new CapacityPlan(c, weightBytes, load, Kv(c, load, load.Concurrency, load.Context), Step(c, load, load.Concurrency), memory, maxConcurrency, maxContext);
    }

    private static long Kv(ModelConfig c, CapacityLoad load, int concurrency, int context) =>
        concurrency * ((context + (long)load.BlockSize - 1) / load.BlockSize)
        * PagedKvCache.BytesPerBlock(c.BlockCount, c.HeadCountKv, c.HeadDim, load.BlockSize, load.CacheType);

    private static long Step(ModelConfig c, CapacityLoad load, int concurrency) =>
        LlmEngine.WorkingBytes(c, new EngineOptions { MaxNumSeqs = Math.Max(concurrency, 1), MaxNumBatchedTokens = load.MaxNumBatchedTokens });

    /// <summary>The largest n in [1, max] for which <paramref name="fits"/> holds (it only turns false as n grows), or 0.</summary>
    private static int Largest(int max, Func<int, bool> fits)
    {
        int lo = 0, hi = max;
        while (lo < hi)
        {
            int mid = lo + ((hi - lo + 1) / 2);
            (lo, hi) = fits(mid) ? (mid, hi) : (lo, mid - 1);
        }
        return lo;
    }
}
