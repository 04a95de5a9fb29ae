namespace Sluice.Engine.Serving;

/// <summary>A consistent snapshot of the engine's counters and gauges, taken by the engine loop after each step.</summary>
public sealed record EngineStats
{
    public int Running { get; init; }
    public int Waiting { get; init; }
    public int KvBlocksTotal { get; init; }
    public int KvBlocksFree { get; init; }
    public double KvUsage { get; init; }
    public int KvCachedBlocks { get; init; }
    public long PromptTokens { get; init; }
    public long GenerationTokens { get; init; }
    public long Preemptions { get; init; }
    public long PrefixCacheQueries { get; init; }
    public long PrefixCacheHits { get; init; }
    public long Steps { get; init; }

    /// <summary>
    /// Seconds the engine thread spent inside steps that ran a batch (building it, the forward pass, sampling and
    /// post-processing): the CPU counterpart of GPU utilization. Idle waits and the worker pool's spinning between steps
    /// do not count; as of the last snapshot, so up to one step behind.
    /// </summary>
    public double BusySeconds { get; init; }

    /// <summary>Tokens run through the model (prefill chunks, recomputation after preemption, decodes).</summary>
    public long ComputedTokens { get; init; }

    /// <summary>Sequences scheduled, summed over every step (over <see cref="Steps"/>: the mean batch size).</summary>
    public long ScheduledSequences { get; init; }
    public int LastStepTokens { get; init; }
    public int LastStepSequences { get; init; }

    /// <summary>TimeProvider timestamp of the last finished step (0 before the first).</summary>
    public long LastStepFinished { get; init; }

    public long RequestsFinished { get; init; }
}
