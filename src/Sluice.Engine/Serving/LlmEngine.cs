using System.Collections.Concurrent;
using Sluice.Engine.Caching;
using Sluice.Engine.Kernels;
using Sluice.Engine.Models;
using Sluice.Engine.Sampling;
using Sluice.Engine.Sampling.Grammars;
using Sluice.Engine.Scheduling;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Serving;

/// <summary>
/// Continuous batching over one model. Callers submit requests from any thread and read their
/// tokens from a channel; one engine thread repeats the step: schedule (which sequences, how many
/// tokens each), run the model once on that ragged batch, then sample and update every sequence
/// that produced logits. Nothing in the step waits on a caller.
/// </summary>
public sealed unsafe class LlmEngine : IDisposable
{
    private readonly LoadedModel _model;
    private readonly EngineOptions _options;
    private readonly TimeProvider _time;
    private readonly WorkerPool _pool;
    private readonly Transformer _transformer;
    private readonly PagedKvCache _cache;
    private readonly BlockManager _blocks;
    private readonly Scheduler _scheduler;
    private readonly Sampler _sampler;
    private readonly ForwardBatch _batch;
    private readonly NativeBuffer<float> _logits;
    private readonly int _logitRows;
    private readonly SchedulerOutput _output = new();
    private readonly ConcurrentQueue<RequestState> _inbox = new();
    private readonly ConcurrentQueue<RequestState> _aborts = new();
    private readonly ConcurrentQueue<TaskCompletionSource<int>> _prefixResets = new();
    private readonly List<RequestState> _active = [];
    private readonly List<Sequence> _sampled = [];
    private readonly List<Sequence> _embedded = [];  // this step's embedding sequences, in hidden-row order
    private readonly List<Sequence> _pooled = [];    // those whose prompt is done this step
    private readonly NativeBuffer<float> _hidden = new(0); // (hiddenRows, d), grown on the first step that wants hidden states
    private readonly List<GrammarConstraint> _constrained = [];
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Thread _loop;
    private long _order;
    private volatile bool _stopping;
    private EngineStats _stats = new();
    private long _promptTokens, _generationTokens, _steps, _finished, _computedTokens, _scheduledSequences;
    private long _busyTicks; // Stopwatch ticks inside steps that ran a batch: batch building, the forward pass, sampling

    public LlmEngine(LoadedModel model, EngineOptions options)
    {
        _model = model;
        _options = options;
        _time = options.Time;
        var c = model.Config;
        options.Validate();
        long perBlock = PagedKvCache.BytesPerBlock(c.BlockCount, c.HeadCountKv, c.HeadDim, options.BlockSize, options.KvCacheType);
        int maxModelLen = Math.Min(options.MaxModelLen ?? c.ContextLength, c.ContextLength);
        if (options.MaxModelLen > c.ContextLength)
        {
            throw new ArgumentException($"--max-model-len {options.MaxModelLen} exceeds the model's context length {c.ContextLength}");
        }
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        long working = WorkingBytes(c, options);
        if (working > available / 2)
        {
            throw new ArgumentException($"--max-num-batched-tokens {options.MaxNumBatchedTokens} with --max-num-seqs {options.MaxNumSeqs} needs about {working:N0} bytes of step buffers (activations and logits), more than half of the {available:N0} bytes available; lower them");
        }
        long budget = options.KvCacheMemory ?? (long)(available * options.KvCacheMemoryFraction);
        long wanted = (long)options.MaxNumSeqs * (((long)maxModelLen + options.BlockSize - 1) / options.BlockSize);
        int blocks = (int)Math.Min(Math.Min(budget / perBlock, wanted), int.MaxValue / 2);
        if (blocks < 1)
        {
            throw new ArgumentException($"KV cache memory {budget:N0} bytes holds no block of {perBlock:N0} bytes (block size {options.BlockSize}); raise --kv-cache-memory");
        }
        if ((long)blocks * perBlock > available)
        {
            throw new ArgumentException($"a KV cache of {(long)blocks * perBlock:N0} bytes (--kv-cache-memory {budget:N0}) is more than the {available:N0} bytes of memory available; lower --kv-cache-memory");
        }
        long fits = (long)blocks * options.BlockSize;
        if (fits < maxModelLen)
        {
            if (options.MaxModelLen != null)
            {
                throw new ArgumentException($"--max-model-len {maxModelLen} needs {((long)maxModelLen + options.BlockSize - 1) / options.BlockSize} KV blocks but --kv-cache-memory holds {blocks}; raise the memory or lower max-model-len");
            }
            maxModelLen = (int)fits;
        }
        MaxModelLen = maxModelLen;
        _pool = new WorkerPool(options.Threads ?? WorkerPool.DefaultThreadCount);
        _transformer = new Transformer(model.Weights, _pool);
        _cache = new PagedKvCache(c.BlockCount, c.HeadCountKv, c.HeadDim, options.BlockSize, blocks, options.KvCacheType);
        _blocks = new BlockManager(blocks, options.BlockSize, options.EnablePrefixCaching);
        _scheduler = new Scheduler(_blocks, options.MaxNumSeqs, options.MaxNumBatchedTokens, options.SchedulingPolicy);
        _sampler = new Sampler(c.VocabSize, model.Tokenizer.EndOfGenerationIds);
        _batch = new ForwardBatch(options.MaxNumBatchedTokens);
        _logitRows = Math.Min(options.MaxNumSeqs, options.MaxNumBatchedTokens);
        _logits = new NativeBuffer<float>((long)_logitRows * c.VocabSize); // (logitRows, vocab)
        _stats = Snapshot();
        _loop = new Thread(Loop) { IsBackground = true, Name = "sluice-engine" };
        _loop.Start();
    }

    /// <summary>
    /// About how many bytes the step's buffers take at most, which grow with --max-num-batched-tokens (the batch,
    /// the transformer's activations per token) and with min(--max-num-seqs, --max-num-batched-tokens) (logit rows).
    /// </summary>
    public static long WorkingBytes(ModelConfig c, EngineOptions options)
    {
        long q = (long)c.HeadCount * c.HeadDim, kv = (long)c.HeadCountKv * c.HeadDim;
        long perToken = 4 * ((2L * c.EmbeddingLength) + (2 * q) + (2 * kv) + (2L * c.FeedForwardLength) + c.HeadDim) + 20;
        long logitRows = Math.Min(options.MaxNumSeqs, options.MaxNumBatchedTokens);
        return (options.MaxNumBatchedTokens * perToken) + (logitRows * c.VocabSize * 4);
    }

    public LoadedModel Model => _model;
    public EngineOptions Options => _options;

    /// <summary>Largest prompt plus output per sequence.</summary>
    public int MaxModelLen { get; }

    public int KvBlocks => _blocks.Blocks;
    public long KvCacheBytes => _cache.TotalBytes;
    public int Threads => _pool.ThreadCount;

    /// <summary>Counters and gauges as of the last step.</summary>
    public EngineStats Stats => Volatile.Read(ref _stats);

    /// <summary>Raised on the engine thread when a request's last sequence finishes; keep handlers short.</summary>
    public event Action<RequestState>? RequestFinished;

    /// <summary>Queues a request; throws <see cref="RequestRejectedException"/> when it can never run.</summary>
    public RequestHandle Submit(GenerationRequest request)
    {
        if (_stopping)
        {
            throw new RequestRejectedException(EngineRejection.ShuttingDown, "the engine is shutting down");
        }
        Validate(request);
        var state = new RequestState(request, _time.GetTimestamp(), Interlocked.Increment(ref _order));
        var p = request.Sampling;
        ulong seed = p.Seed ?? (ulong)Random.Shared.NextInt64();
        var first = new Sequence(state, 0, request.PromptTokens, new SequenceSamplingState(p, request.PromptTokens, seed),
            _model.Tokenizer.CreateDetokenizer(startOfSequence: false))
        {
            Embedding = request.Embedding is { } e ? new EmbeddingAccumulator(e, _model.Config.EmbeddingLength) : null,
        };
        if (request.ResumesOutput)
        {
            Resume(first, request.PromptTokens, p.ContinuedTokens);
        }
        state.Sequences.Add(first);
        _inbox.Enqueue(state);
        if (request.CancellationToken.CanBeCanceled)
        {
            // registered after queueing, so the engine always knows the request when the abort arrives
            request.CancellationToken.Register(() => Abort(state));
        }
        _signal.Release();
        return new RequestHandle(state, Abort);
    }

    /// <summary>
    /// A continued answer: its detokenizer, stop strings' matcher and grammar moved past the output already sent (the
    /// prompt's last <paramref name="continued"/> tokens), so text held back (half a character, a possible start of a
    /// stop string) and the grammar's place carry over: the continuation stops where an unbroken run would.
    /// </summary>
    private void Resume(Sequence seq, IReadOnlyList<int> prompt, int continued)
    {
        var p = seq.Sampling.Params;
        for (int i = prompt.Count - Math.Min(continued, prompt.Count); i < prompt.Count; i++)
        {
            if (seq.Stops.Push(seq.Detokenizer.Push(prompt[i]), p.IncludeStopStringInOutput).Matched is { } stop)
            {
                throw new RequestRejectedException(EngineRejection.InvalidRequest, $"the continued tokens already hold the stop string \"{stop}\" (output token {i - prompt.Count + continued}): the answer ended there");
            }
            if (seq.Sampling.Constraint is { } constraint && !constraint.Accept(_model.Tokenizer.TokenBytes(prompt[i]), endOfGeneration: false))
            {
                throw new RequestRejectedException(EngineRejection.InvalidRequest, $"the continued token {prompt[i]} (output token {i - prompt.Count + continued}) is not allowed by the request's grammar");
            }
        }
    }

    private void Validate(GenerationRequest request)
    {
        var prompt = request.PromptTokens;
        int vocab = _model.Config.VocabSize;
        if (prompt.Count == 0)
        {
            throw new RequestRejectedException(EngineRejection.InvalidRequest, "the prompt is empty");
        }
        foreach (var t in prompt)
        {
            if ((uint)t >= (uint)vocab)
            {
                throw new RequestRejectedException(EngineRejection.InvalidRequest, $"prompt token id {t} is outside the vocabulary (0..{vocab - 1})");
            }
        }
        if (request.Embedding != null)
        {
            ValidateEmbedding(request);
            return;
        }
        try
        {
            request.Sampling.Validate(vocab);
        }
        catch (ArgumentException ex)
        {
            throw new RequestRejectedException(EngineRejection.InvalidRequest, ex.Message);
        }
        if (request.Sampling.N > _options.MaxNumSeqs)
        {
            throw new RequestRejectedException(EngineRejection.InvalidRequest, $"n = {request.Sampling.N} exceeds max-num-seqs {_options.MaxNumSeqs}");
        }
        long total = (long)prompt.Count + request.Sampling.MaxTokens;
        if (prompt.Count >= MaxModelLen || total > MaxModelLen)
        {
            throw new RequestRejectedException(EngineRejection.TooLong,
                $"this model's maximum context length is {MaxModelLen} tokens, but {total} were requested ({prompt.Count} in the prompt, {request.Sampling.MaxTokens} for the completion)");
        }
        long blocks = (total + _blocks.BlockSize - 1) / _blocks.BlockSize;
        if (blocks > _blocks.Blocks)
        {
            throw new RequestRejectedException(EngineRejection.TooLong,
                $"the request needs {blocks} KV blocks ({total} tokens) but the whole cache has {_blocks.Blocks}; raise --kv-cache-memory");
        }
    }

    private void ValidateEmbedding(GenerationRequest request)
    {
        int n = request.PromptTokens.Count;
        if (request.Sampling.N != 1)
        {
            throw new RequestRejectedException(EngineRejection.InvalidRequest, $"an embedding has one sequence, not n = {request.Sampling.N}");
        }
        if (n > MaxModelLen)
        {
            throw new RequestRejectedException(EngineRejection.TooLong,
                $"this model's maximum context length is {MaxModelLen} tokens, but the input has {n} tokens");
        }
        long blocks = ((long)n + _blocks.BlockSize - 1) / _blocks.BlockSize;
        if (blocks > _blocks.Blocks)
        {
            throw new RequestRejectedException(EngineRejection.TooLong,
                $"the input needs {blocks} KV blocks ({n} tokens) but the whole cache has {_blocks.Blocks}; raise --kv-cache-memory");
        }
    }

    private void Abort(RequestState state)
    {
        _aborts.Enqueue(state);
        _signal.Release();
    }

    private void Loop()
    {
        while (!_stopping)
        {
            if (DrainInbox() | DrainAborts() | DrainPrefixResets())
            {
                Volatile.Write(ref _stats, Snapshot());
            }
            if (_scheduler.Running.Count == 0 && _scheduler.Waiting.Count == 0)
            {
                _signal.Wait(100);
                continue;
            }
            try
            {
                Step();
            }
            catch (Exception ex)
            {
                FailAll(ex);
            }
        }
        DrainInbox();
        DrainPrefixResets();
        foreach (var r in _active.ToArray())
        {
            FinishRequest(r, FinishReason.Cancelled);
        }
    }

    private bool DrainInbox()
    {
        bool any = false;
        while (_inbox.TryDequeue(out var state))
        {
            _active.Add(state);
            _scheduler.Add(state.Sequences[0]);
            any = true;
        }
        return any;
    }

    /// <summary>
    /// Forgets every cached prefix block (vLLM's /reset_prefix_cache): blocks held by running sequences stay theirs, they
    /// are only no longer found by content. Runs on the engine loop, between steps; completes with how many blocks were
    /// findable. Completes at once (0) when the engine has stopped.
    /// </summary>
    public Task<int> ResetPrefixCacheAsync()
    {
        var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_stopping)
        {
            done.SetResult(0);
            return done.Task;
        }
        _prefixResets.Enqueue(done);
        _signal.Release();
        return done.Task;
    }

    private bool DrainPrefixResets()
    {
        bool any = false;
        while (_prefixResets.TryDequeue(out var done))
        {
            int cached = _blocks.CachedBlocks;
            _blocks.ResetPrefixCache();
            done.TrySetResult(cached);
            any = true;
        }
        return any;
    }

    private bool DrainAborts()
    {
        bool any = false;
        while (_aborts.TryDequeue(out var state))
        {
            if (!state.IsFinished && _active.Contains(state))
            {
                FinishRequest(state, FinishReason.Cancelled);
                any = true;
            }
        }
        return any;
    }

    /// <summary>Schedule, run the model, post-process.</summary>
    private void Step()
    {
        _scheduler.Schedule(_output);
        if (_output.Scheduled.Count == 0)
        {
            _signal.Wait(1);
            return;
        }
        // real time, not _time: busy seconds measure the machine, whatever clock the requests run on
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        BuildBatch();
        _transformer.Forward(_batch, _cache, _logits.Pointer, _hidden.Pointer);
        PostProcess();
        _busyTicks += System.Diagnostics.Stopwatch.GetTimestamp() - start;
    }

    private void BuildBatch()
    {
        _batch.Clear();
        _sampled.Clear();
        _embedded.Clear();
        long now = _time.GetTimestamp();
        foreach (var seq in _output.Scheduled)
        {
            if (seq.Request.FirstScheduled == null)
            {
                seq.Request.FirstScheduled = now;
                _promptTokens += seq.PromptLength;
            }
            int start = seq.NumComputed, n = seq.ScheduledTokens;
            bool logits = start + n == seq.Tokens.Count;
            if (seq.Embedding is { } pool)
            {
                AddEmbeddingChunk(seq, pool, start, n, logits);
                continue;
            }
            for (int i = 0; i < n; i++)
            {
                _batch.Add(seq.Tokens[start + i], start + i, seq.BlockTable, logits && i == n - 1);
            }
            if (logits)
            {
                _sampled.Add(seq);
            }
        }
        _hidden.EnsureCapacity((long)Math.Max(_batch.HiddenCount, 1) * _model.Config.EmbeddingLength);
        if (_sampled.Count > _logitRows)
        {
            // the scheduler keeps running sequences within max-num-seqs; past it the logits would overrun their buffer
            throw new InvalidOperationException($"{_sampled.Count} sequences want logits but the buffer holds {_logitRows} rows");
        }
    }

    /// <summary>An embedding's chunk: its tokens want hidden states (all for mean pooling, the prompt's last for last-token), no logits.</summary>
    private void AddEmbeddingChunk(Sequence seq, EmbeddingAccumulator pool, int start, int n, bool last)
    {
        if (start == 0)
        {
            pool.Reset(); // a first chunk, or the first again after a preemption
        }
        for (int i = 0; i < n; i++)
        {
            _batch.Add(seq.Tokens[start + i], start + i, seq.BlockTable, wantLogits: false, pool.WantsEveryToken || (last && i == n - 1));
        }
        _embedded.Add(seq);
    }

    /// <summary>Pools this step's hidden rows into their sequences (in the order the batch asked for them).</summary>
    private void PoolHiddenStates()
    {
        _pooled.Clear();
        int d = _model.Config.EmbeddingLength;
        int row = 0;
        foreach (var seq in _embedded)
        {
            var pool = seq.Embedding!;
            bool last = seq.NumComputed + seq.ScheduledTokens == seq.Tokens.Count;
            int rows = pool.WantsEveryToken ? seq.ScheduledTokens : (last ? 1 : 0);
            for (int i = 0; i < rows; i++, row++)
            {
                pool.Add(_hidden.Pointer + ((long)row * d));
            }
            if (last)
            {
                _pooled.Add(seq);
            }
        }
    }

    private void FinishEmbedding(Sequence seq)
    {
        var state = seq.Request;
        state.FirstToken ??= _time.GetTimestamp();
        state.Events.Writer.TryWrite(new TokenEvent(seq.Index, -1, "", 0, null, FinishReason.Stop) { Embedding = seq.Embedding!.Result() });
        FinishSequence(seq, FinishReason.Stop);
    }

    private void PostProcess()
    {
        PoolHiddenStates();
        foreach (var seq in _output.Scheduled)
        {
            _scheduler.OnComputed(seq);
        }
        foreach (var seq in _pooled)
        {
            FinishEmbedding(seq);
        }
        PrepareMasks();
        int vocab = _model.Config.VocabSize;
        for (int row = 0; row < _sampled.Count; row++)
        {
            var seq = _sampled[row];
            var logits = new ReadOnlySpan<float>(_logits.Pointer + (long)row * vocab, vocab);
            if (seq.ForksAtFirstToken)
            {
                Fork(seq, logits);
                continue;
            }
            var r = _sampler.Sample(logits, seq.Sampling);
            Accept(seq, r);
        }
        _steps++;
        _computedTokens += _output.TotalTokens;
        _scheduledSequences += _output.Scheduled.Count;
        Volatile.Write(ref _stats, Snapshot());
    }

    /// <summary>
    /// Computes the grammar masks of this step's constrained sequences, in parallel when there are several: a mask
    /// not cached yet walks the vocabulary, which must not queue the batch's sequences one behind another.
    /// </summary>
    private void PrepareMasks()
    {
        _constrained.Clear();
        foreach (var seq in _sampled)
        {
            if (seq.Sampling.Constraint is { } c)
            {
                _constrained.Add(c);
            }
        }
        if (_constrained.Count == 1)
        {
            _constrained[0].Prepare();
        }
        else if (_constrained.Count > 1)
        {
            Parallel.ForEach(_constrained, static c => c.Prepare());
        }
    }

    /// <summary>First logits of an n > 1 request: the other n-1 sequences share the prompt's blocks and each draws its own token.</summary>
    private void Fork(Sequence parent, ReadOnlySpan<float> logits)
    {
        var state = parent.Request;
        state.Forked = true;
        var p = state.Request.Sampling;
        var children = new List<Sequence>();
        for (int i = 1; i < p.N; i++)
        {
            ulong seed = (p.Seed ?? (ulong)Random.Shared.NextInt64()) + (ulong)i;
            var child = new Sequence(state, i, state.Request.PromptTokens, new SequenceSamplingState(p, state.Request.PromptTokens, seed),
                _model.Tokenizer.CreateDetokenizer(startOfSequence: false));
            child.CopyStateFrom(parent, _blocks, CopyBlock);
            state.Sequences.Add(child);
            _scheduler.AddRunning(child);
            children.Add(child);
        }
        Accept(parent, _sampler.Sample(logits, parent.Sampling));
        foreach (var child in children)
        {
            Accept(child, _sampler.Sample(logits, child.Sampling));
        }
    }

    private int CopyBlock(int source)
    {
        int b = _blocks.Allocate();
        _cache.CopyBlock(source, b);
        return b;
    }

    private void Accept(Sequence seq, Sampler.Result r)
    {
        var state = seq.Request;
        var p = seq.Sampling.Params;
        long now = _time.GetTimestamp();
        state.FirstToken ??= now;
        state.LastToken = now;
        seq.Sampling.Accept(r.Token);
        bool endOfGeneration = _model.Tokenizer.IsEndOfGeneration(r.Token);
        var constraint = seq.Sampling.Constraint;
        constraint?.Accept(_model.Tokenizer.TokenBytes(r.Token), endOfGeneration);
        seq.Tokens.Add(r.Token);
        state.GeneratedTokens++;
        _generationTokens++;

        FinishReason? finish = null;
        string? stopReason = null;
        string text;
        long detokenizeStart = _time.GetTimestamp();
        bool stopId = p.StopTokenIds.Contains(r.Token);
        if ((!p.IgnoreEos && endOfGeneration) || stopId)
        {
            finish = FinishReason.Stop;
            stopReason = stopId ? r.Token.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
            text = seq.Stops.Push(seq.Detokenizer.Flush(), p.IncludeStopStringInOutput).Emit + seq.Stops.Flush();
        }
        else
        {
            var (emit, matched) = seq.Stops.Push(seq.Detokenizer.Push(r.Token), p.IncludeStopStringInOutput);
            text = emit;
            if (matched != null)
            {
                finish = FinishReason.Stop;
                stopReason = matched;
            }
            else if (constraint is { IsComplete: true })
            {
                // the grammar's sentence is whole and nothing can follow it: done, as if the model had said EOS
                finish = FinishReason.Stop;
                text += seq.Stops.Push(seq.Detokenizer.Flush(), p.IncludeStopStringInOutput).Emit + seq.Stops.Flush();
            }
            else if (seq.OutputLength >= p.MaxTokens || seq.Tokens.Count >= MaxModelLen)
            {
                finish = FinishReason.Length;
                text += seq.Stops.Push(seq.Detokenizer.Flush(), p.IncludeStopStringInOutput).Emit + seq.Stops.Flush();
            }
        }
        state.DetokenizeTicks += _time.GetTimestamp() - detokenizeStart;
        state.DetokenizeCount++;
        state.Events.Writer.TryWrite(new TokenEvent(seq.Index, r.Token, text, r.Logprob, r.TopLogprobs, finish, stopReason));
        if (finish.HasValue)
        {
            FinishSequence(seq, finish.Value);
        }
    }

    private void FinishSequence(Sequence seq, FinishReason reason)
    {
        seq.Finish = reason;
        _scheduler.Remove(seq);
        var state = seq.Request;
        state.FinishedSequences++;
        bool allDone = state.FinishedSequences == state.N || (reason is FinishReason.Cancelled or FinishReason.Error);
        if (allDone)
        {
            CompleteRequest(state);
        }
    }

    private void FinishRequest(RequestState state, FinishReason reason)
    {
        foreach (var seq in state.Sequences)
        {
            if (seq.Status != SequenceStatus.Finished)
            {
                seq.Finish = reason;
                _scheduler.Remove(seq);
                state.Events.Writer.TryWrite(new TokenEvent(seq.Index, -1, "", 0, null, reason));
            }
        }
        CompleteRequest(state);
    }

    private void CompleteRequest(RequestState state)
    {
        if (state.IsFinished)
        {
            return;
        }
        // an n > 1 request cancelled before forking still owes the caller its other sequences' ends
        for (int i = state.Sequences.Count; i < state.N && state.Sequences[0].Finish is FinishReason.Cancelled or FinishReason.Error; i++)
        {
            state.Events.Writer.TryWrite(new TokenEvent(i, -1, "", 0, null, state.Sequences[0].Finish));
        }
        state.Finished = _time.GetTimestamp();
        _active.Remove(state);
        _finished++;
        state.Events.Writer.TryComplete(state.Error);
        try
        {
            RequestFinished?.Invoke(state);
        }
        catch
        {
            // an observer's failure must not stop the engine
        }
    }

    private void FailAll(Exception ex)
    {
        foreach (var state in _active.ToArray())
        {
            state.Error = ex;
            FinishRequest(state, FinishReason.Error);
        }
    }

    private EngineStats Snapshot() => new()
    {
        Running = _scheduler.Running.Count,
        Waiting = _scheduler.Waiting.Count,
        KvBlocksTotal = _blocks.Blocks,
        KvBlocksFree = _blocks.FreeBlocks,
        KvUsage = _blocks.Usage,
        KvCachedBlocks = _blocks.CachedBlocks,
        PromptTokens = _promptTokens,
        GenerationTokens = _generationTokens,
        Preemptions = _scheduler.Preemptions,
        PrefixCacheQueries = _scheduler.PrefixQueries,
        PrefixCacheHits = _scheduler.PrefixHits,
        Steps = _steps,
        BusySeconds = _busyTicks / (double)System.Diagnostics.Stopwatch.Frequency,
        ComputedTokens = _computedTokens,
        ScheduledSequences = _scheduledSequences,
        LastStepTokens = _output.TotalTokens,
        LastStepSequences = _output.Scheduled.Count,
        LastStepFinished = _steps == 0 ? 0 : _time.GetTimestamp(),
        RequestsFinished = _finished,
    };

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }
        _stopping = true;
        _signal.Release();
        _loop.Join();
        _transformer.Dispose();
        _cache.Dispose();
        _logits.Dispose();
        _hidden.Dispose();
        _pool.Dispose();
        _signal.Dispose();
    }
}
