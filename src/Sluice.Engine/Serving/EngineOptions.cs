using Sluice.Engine.Caching;
using Sluice.Engine.Scheduling;
using Sluice.Engine.Threading;

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

    /// <summary>--scheduling-policy: <see cref="SchedulingPolicy.Fcfs"/> (default) or <see cref="SchedulingPolicy.Priority"/>.</summary>
    public SchedulingPolicy SchedulingPolicy { get; init; } = SchedulingPolicy.Fcfs;

    /// <summary>The clock for request timings (tests inject their own).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Largest --max-num-seqs: more sequences than this cannot run at once in any KV cache worth having.</summary>
    public const int MaxSequences = 1 << 16;

    /// <summary>Largest --max-num-batched-tokens (the step's buffers are sized by it).</summary>
    public const int MaxBatchedTokens = 1 << 20;

    /// <summary>Largest --block-size.</summary>
    public const int MaxBlockSize = 1024;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the first setting (by its flag) that is out of range; the
    /// limits that depend on the model and the machine are checked when the engine is built.
    /// </summary>
    public void Validate()
    {
        static void Range(string flag, long value, long min, long max)
        {
            if (value < min || value > max)
            {
                throw new ArgumentException($"{flag} must be from {min} to {max}, got {value}");
            }
        }
        Range("--max-num-seqs", MaxNumSeqs, 1, MaxSequences);
        Range("--max-num-batched-tokens", MaxNumBatchedTokens, 1, MaxBatchedTokens);
        Range("--block-size", BlockSize, 1, MaxBlockSize);
        if (MaxModelLen is { } len)
        {
            Range("--max-model-len", len, 1, int.MaxValue);
        }
        if (KvCacheMemory is < 1)
        {
            throw new ArgumentException($"--kv-cache-memory must be a positive number of bytes, got {KvCacheMemory}");
        }
        if (!(KvCacheMemoryFraction > 0 && KvCacheMemoryFraction <= 1))
        {
            throw new ArgumentException($"the KV cache's share of memory must be in (0, 1], got {KvCacheMemoryFraction}");
        }
        if (!Enum.IsDefined(KvCacheType))
        {
            throw new ArgumentException($"--kv-cache-dtype {(int)KvCacheType} is not a KV cache type (F16, F32 or Q8_0)");
        }
        if (Threads is { } threads)
        {
            Range("--threads", threads, 1, WorkerPool.MaxThreads);
        }
        if (!Enum.IsDefined(SchedulingPolicy))
        {
            throw new ArgumentException($"--scheduling-policy must be fcfs or priority, got '{(int)SchedulingPolicy}'");
        }
        ArgumentNullException.ThrowIfNull(Time);
    }
}
