using Sluice.Engine.Caching;

namespace Sluice.Engine.Serving;

/// <summary>Engine settings, named after vLLM's flags. Defaults are documented per property.</summary>
public sealed record EngineOptions
{
    /// <summary>--max-num-seqs: sequences running at once. Default 64.</summary>
    public int MaxNumSeqs { get; init; } = 64;

    /// <summary>--max-num-batched-tokens: tokens per engine step (decodes plus prefill chunks). Default 512.</summary>
    public int MaxNumBatchedTokens { get; init; } = 512;

    /// <summary>--max-model-len: prompt plus output tokens per sequence; null uses the model's context length.</summary>
    public int? MaxModelLen { get; init; }

    /// <summary>--block-size: tokens per KV block. Default 16.</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>--kv-cache-memory in bytes; null takes <see cref="KvCacheMemoryFraction"/> of available memory.</summary>
    public long? KvCacheMemory { get; init; }

    /// <summary>Share of available memory the KV cache takes when no size is given. Default 0.25.</summary>
    public double KvCacheMemoryFraction { get; init; } = 0.25;

    /// <summary>--kv-cache-dtype: F16 (default), F32 or Q8_0.</summary>
    public KvCacheType KvCacheType { get; init; } = KvCacheType.F16;

    /// <summary>--enable-prefix-caching. Default on.</summary>
    public bool EnablePrefixCaching { get; init; } = true;

    /// <summary>--threads: worker threads for the kernels; null uses every core.</summary>
    public int? Threads { get; init; }

    /// <summary>--scheduling-policy: "fcfs" (default) or "priority".</summary>
    public string SchedulingPolicy { get; init; } = "fcfs";

    /// <summary>The clock for request timings (tests inject their own).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}
