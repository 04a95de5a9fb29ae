using Sluice.Engine.Caching;

namespace Sluice.Engine.Scheduling;

/// <summary>
/// Chooses each step's work within a token budget and a sequence cap: running sequences first (each
/// decode needs one token; an unfinished prefill takes the next chunk), then waiting ones in policy
/// order, each admitted with whatever prefix of it the cache already holds. When blocks run out the
/// newest running sequence (the lowest priority one under the priority policy) is preempted by
/// recompute. A preemption in a step stops admissions in that step, so freed blocks go to the
/// sequences already running and nothing ping-pongs.
/// </summary>
public sealed class Scheduler
{
    private readonly BlockManager _blocks;
    private readonly int _maxSeqs;
    private readonly int _maxTokens;
    private readonly SchedulingPolicy _policy;
    private readonly List<Sequence> _running = [];
    private readonly List<Sequence> _waiting = [];

    public Scheduler(BlockManager blocks, int maxNumSeqs, int maxNumBatchedTokens, SchedulingPolicy policy)
    {
        _blocks = blocks;
        _maxSeqs = maxNumSeqs;
        _maxTokens = maxNumBatchedTokens;
        _policy = policy;
    }

    public IReadOnlyList<Sequence> Running => _running;
    public IReadOnlyList<Sequence> Waiting => _waiting;
    public long PrefixQueries { get; private set; }
    public long PrefixHits { get; private set; }
    public long Preemptions { get; private set; }

    public void Add(Sequence seq)
    {
        seq.Status = SequenceStatus.Waiting;
        InsertWaiting(seq);
    }

    /// <summary>Removes a finished or cancelled sequence and releases its blocks.</summary>
    public void Remove(Sequence seq)
    {
        if (seq.Status == SequenceStatus.Running)
        {
            _running.Remove(seq);
        }
        else if (seq.Status == SequenceStatus.Waiting)
        {
            _waiting.Remove(seq);
        }
        seq.ReleaseBlocks(_blocks);
        seq.Status = SequenceStatus.Finished;
    }

    /// <summary>Adds an already-running sequence (a fork of a running one) directly to the running set.</summary>
    public void AddRunning(Sequence seq)
    {
        seq.Status = SequenceStatus.Running;
        _running.Add(seq);
    }

    public void Schedule(SchedulerOutput output)
    {
        output.Clear();
        int budget = _maxTokens;
        for (int i = 0; i < _running.Count && budget > 0; i++)
        {
            var seq = _running[i];
            int n = Math.Min(seq.Tokens.Count - seq.NumComputed, budget);
            while (!TryGrow(seq, seq.NumComputed + n))
            {
                var victim = PickVictim();
                Preempt(victim, output);
                if (victim == seq)
                {
                    break;
                }
                // the victim may have been scheduled earlier in this step
                if (output.Scheduled.Remove(victim))
                {
                    budget += victim.ScheduledTokens;
                    output.TotalTokens -= victim.ScheduledTokens;
                }
                i = _running.IndexOf(seq);
            }
            if (seq.Status != SequenceStatus.Running)
            {
                i--;
                continue;
            }
            seq.ScheduledTokens = n;
            output.Scheduled.Add(seq);
            output.TotalTokens += n;
            budget -= n;
        }
        if (output.Preempted.Count > 0)
        {
            return;
        }
        int slots = RunningSlots;
        while (_waiting.Count > 0 && budget > 0 && slots + _waiting[0].Slots <= _maxSeqs)
        {
            var seq = _waiting[0];
            int hits = seq.NumComputed == 0 ? ReuseCachedPrefix(seq) : 0;
            int n = Math.Min(seq.Tokens.Count - seq.NumComputed, budget);
            if (!TryGrow(seq, seq.NumComputed + n))
            {
                // not now: give back what the prefix lookup took so the blocks stay evictable
                seq.ReleaseBlocks(_blocks);
                break;
            }
            if (_blocks.PrefixCaching)
            {
                PrefixQueries += seq.Tokens.Count;
                PrefixHits += hits;
            }
            if (seq.Request.FirstScheduled == null)
            {
                seq.Request.CachedPromptTokens = hits;
            }
            _waiting.RemoveAt(0);
            seq.Status = SequenceStatus.Running;
            _running.Add(seq);
            slots += seq.Slots;
            seq.ScheduledTokens = n;
            output.Scheduled.Add(seq);
            output.TotalTokens += n;
            budget -= n;
        }
    }

    /// <summary>
    /// Sequence places the running set holds: one per sequence, and n for the sequence of an n > 1 request
    /// that has not forked yet, since it becomes n sequences after its prompt. Never above max-num-seqs, so
    /// every buffer sized by it (the logits rows) holds any step; counting only <see cref="Running"/> let
    /// several unforked n > 1 requests in at once and fork past the cap.
    /// </summary>
    public int RunningSlots
    {
        get
        {
            int slots = 0;
            foreach (var s in _running)
            {
                slots += s.Slots;
            }
            return slots;
        }
    }

    /// <summary>After a step: records computed tokens and registers blocks that became full.</summary>
    public void OnComputed(Sequence seq)
    {
        seq.NumComputed += seq.ScheduledTokens;
        seq.ScheduledTokens = 0;
        if (!_blocks.PrefixCaching || seq.Embedding != null)
        {
            return; // an embedding keeps no KV cache afterwards
        }
        int bs = _blocks.BlockSize;
        var tokens = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(seq.Tokens);
        for (int b = seq.BlockHashes.Count; (b + 1) * bs <= seq.NumComputed; b++)
        {
            var parent = b == 0 ? UInt128.Zero : seq.BlockHashes[b - 1];
            var hash = PrefixHash.Compute(parent, tokens.Slice(b * bs, bs));
            seq.AddBlockHash(hash);
            _blocks.Register(seq.BlockTable[b], hash);
        }
    }

    /// <summary>Takes every cached leading block of the sequence; returns the tokens they hold.</summary>
    private int ReuseCachedPrefix(Sequence seq)
    {
        if (!_blocks.PrefixCaching || seq.Embedding is { WantsEveryToken: true })
        {
            return 0; // mean pooling needs every token's hidden state, so computes them all
        }
        int bs = _blocks.BlockSize;
        // never take the block holding the last known token: its logits must be computed
        int maxBlocks = (seq.Tokens.Count - 1) / bs;
        var tokens = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(seq.Tokens);
        UInt128 parent = UInt128.Zero;
        for (int b = 0; b < maxBlocks; b++)
        {
            var hash = PrefixHash.Compute(parent, tokens.Slice(b * bs, bs));
            if (!_blocks.TryReuse(hash, out int block))
            {
                break;
            }
            seq.AddBlock(block);
            seq.AddBlockHash(hash);
            seq.NumComputed += bs;
            parent = hash;
        }
        return seq.NumComputed;
    }

    private bool TryGrow(Sequence seq, int tokens)
    {
        int bs = _blocks.BlockSize;
        int need = (tokens + bs - 1) / bs - seq.BlockCount;
        if (need <= 0)
        {
            return true;
        }
        if (!_blocks.CanAllocate(need))
        {
            return false;
        }
        for (int i = 0; i < need; i++)
        {
            seq.AddBlock(_blocks.Allocate());
        }
        return true;
    }

    private Sequence PickVictim()
    {
        if (_policy == SchedulingPolicy.Fcfs)
        {
            return _running[^1];
        }
        var victim = _running[0];
        foreach (var s in _running)
        {
            if (s.Priority > victim.Priority || (s.Priority == victim.Priority && s.Order > victim.Order))
            {
                victim = s;
            }
        }
        return victim;
    }

    private void Preempt(Sequence seq, SchedulerOutput output)
    {
        _running.Remove(seq);
        seq.ReleaseBlocks(_blocks);
        seq.Preemptions++;
        Preemptions++;
        output.Preempted.Add(seq);
        seq.Status = SequenceStatus.Waiting;
        InsertWaiting(seq);
    }

    private void InsertWaiting(Sequence seq)
    {
        // FCFS: by submission order (a preempted sequence goes back to its place, ahead of later ones);
        // priority: by (priority, submission order)
        int i = _waiting.Count;
        while (i > 0 && Before(seq, _waiting[i - 1]))
        {
            i--;
        }
        _waiting.Insert(i, seq);
    }

    private bool Before(Sequence a, Sequence b)
    {
        if (_policy == SchedulingPolicy.Priority && a.Priority != b.Priority)
        {
            return a.Priority < b.Priority;
        }
        return a.Order < b.Order || (a.Order == b.Order && a.Index < b.Index);
    }
}
