using System.Diagnostics;
using Sluice.Engine.Caching;
using Sluice.Engine.Kernels;
using Sluice.Engine.Models;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Benchmarks;

/// <summary>
/// llama-bench's measurements on Sluice's forward pass: pp N = one N-token prompt from an empty cache
/// (tokens/s), tg N = N single-token decode steps (tokens/s), plus aggregate decode with several
/// sequences per step, and the machine's read bandwidth in the same run.
/// </summary>
public sealed unsafe class EngineBenchmark : IDisposable
{
    private readonly LoadedModel _model;
    private readonly WorkerPool _pool;
    private readonly Transformer _transformer;
    private readonly PagedKvCache _cache;
    private readonly NativeBuffer<float> _logits;
    private const int BlockSize = 16;
    private readonly int[][] _tables;

    /// <param name="maxPrompt">Longest prompt to measure (sequence 0 gets room for it).</param>
    /// <param name="decodeSteps">Decode steps per sequence (every sequence gets room for them).</param>
    /// <param name="maxSeqs">Most sequences decoded together (1 to <see cref="MaxSequences"/>).</param>
    public EngineBenchmark(LoadedModel model, int threads, int maxPrompt = 512, int decodeSteps = 128, int maxSeqs = 64)
    {
        var c = model.Config;
        if (threads is < 1 or > WorkerPool.MaxThreads)
        {
            throw new ArgumentException($"--threads must be from 1 to {WorkerPool.MaxThreads}, got {threads}");
        }
        if (maxSeqs is < 1 or > MaxSequences)
        {
            throw new ArgumentException($"the sequences decoded together must be from 1 to {MaxSequences}, got {maxSeqs}");
        }
        if (maxPrompt is < 1 or > MaxTokens || decodeSteps is < 1 or > MaxTokens)
        {
            throw new ArgumentException($"prompt length {maxPrompt} and decode steps {decodeSteps} must be from 1 to {MaxTokens}");
        }
        int first = (Math.Max(maxPrompt, decodeSteps) + BlockSize - 1) / BlockSize;
        int other = (decodeSteps + BlockSize - 1) / BlockSize;
        long blocks = first + ((long)(maxSeqs - 1) * other);
        long bytes = (blocks * PagedKvCache.BytesPerBlock(c.BlockCount, c.HeadCountKv, c.HeadDim, BlockSize, KvCacheType.F16))
            + ((long)maxSeqs * c.VocabSize * sizeof(float));
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes > available / 2)
        {
            throw new ArgumentException($"{maxSeqs} sequences need a {bytes:N0}-byte KV cache and logits, more than half of the {available:N0} bytes of memory available; measure fewer");
        }
        MaxPrompt = maxPrompt;
        DecodeSteps = decodeSteps;
        MaxSeqs = maxSeqs;
        _model = model;
        _pool = new WorkerPool(threads);
        _transformer = new Transformer(model.Weights, _pool);
        _tables = new int[maxSeqs][];
        int next = 0;
        for (int s = 0; s < maxSeqs; s++)
        {
            int n = s == 0 ? first : other;
            _tables[s] = Enumerable.Range(next, n).ToArray();
            next += n;
        }
        _cache = new PagedKvCache(c.BlockCount, c.HeadCountKv, c.HeadDim, BlockSize, next, KvCacheType.F16);
        _logits = new NativeBuffer<float>((long)maxSeqs * c.VocabSize);
    }

    /// <summary>Most sequences one benchmark decodes together.</summary>
    public const int MaxSequences = 1024;

    /// <summary>Longest prompt or decode run one benchmark measures.</summary>
    public const int MaxTokens = 1 << 16;

    public int Threads => _pool.ThreadCount;
    public int MaxPrompt { get; }
    public int DecodeSteps { get; }
    public int MaxSeqs { get; }

    /// <summary>Attach to collect per-phase times of the passes that follow.</summary>
    public ForwardProfile? Profile
    {
        get => _transformer.Profile;
        set => _transformer.Profile = value;
    }

    public double MeasureBandwidth() => MemoryBandwidth.Measure(_pool);

    private int[] Table(int seq) => _tables[seq];

    /// <summary>
    /// Prompt processing: tokens/s for one prompt of <paramref name="tokens"/> tokens, the median of
    /// <paramref name="reps"/> timed runs after one untimed warm-up (llama-bench reports the mean of its
    /// runs after a warm-up; the median is less swayed by a noisy neighbour).
    /// </summary>
    public double PromptProcessing(int tokens, int reps = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tokens, MaxPrompt);
        ArgumentOutOfRangeException.ThrowIfLessThan(reps, 1);
        var batch = new ForwardBatch(tokens);
        var table = Table(0);
        var rng = new Random(1);
        var times = new List<double>();
        for (int r = 0; r < reps + 1; r++)
        {
            batch.Clear();
            for (int i = 0; i < tokens; i++)
            {
                batch.Add(rng.Next(_model.Config.VocabSize), i, table, i == tokens - 1);
            }
            var sw = Stopwatch.StartNew();
            _transformer.Forward(batch, _cache, _logits.Pointer);
            if (r > 0)
            {
                times.Add(sw.Elapsed.TotalSeconds);
            }
        }
        return tokens / Median(times);
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        int n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[(n / 2) - 1] + values[n / 2]) / 2;
    }

    /// <summary>
    /// Decode: <paramref name="sequences"/> sequences each generate <paramref name="steps"/> tokens,
    /// one step per token with all of them in the batch; aggregate tokens/s, the median of
    /// <paramref name="reps"/> timed runs after a short untimed warm-up.
    /// </summary>
    public double Decode(int sequences, int steps, int reps = 2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sequences, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sequences, MaxSeqs);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(steps, DecodeSteps);
        ArgumentOutOfRangeException.ThrowIfLessThan(reps, 1);
        var batch = new ForwardBatch(sequences);
        var tables = Enumerable.Range(0, sequences).Select(Table).ToArray();
        var rng = new Random(2);
        var times = new List<double>();
        for (int r = -1; r < reps; r++)
        {
            var sw = Stopwatch.StartNew();
            for (int pos = 0; pos < (r < 0 ? Math.Min(steps, 4) : steps); pos++)
            {
                batch.Clear();
                for (int s = 0; s < sequences; s++)
                {
                    batch.Add(rng.Next(_model.Config.VocabSize), pos, tables[s], true);
                }
                _transformer.Forward(batch, _cache, _logits.Pointer);
            }
            if (r >= 0)
            {
                times.Add(sw.Elapsed.TotalSeconds);
            }
        }
        return sequences * steps / Median(times);
    }

    public void Dispose()
    {
        _transformer.Dispose();
        _cache.Dispose();
        _logits.Dispose();
        _pool.Dispose();
    }
}
