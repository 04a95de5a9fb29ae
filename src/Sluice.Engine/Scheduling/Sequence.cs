using Sluice.Engine.Caching;
using Sluice.Engine.Sampling;
using Sluice.Engine.Serving;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Scheduling;

/// <summary>
/// One generated sequence: its tokens (prompt then output), how many of them have keys and values in
/// the cache, and the KV block table that holds them. A request with n > 1 owns n sequences.
/// </summary>
public sealed class Sequence
{
    private int[] _blockTable = new int[8];
    private readonly List<UInt128> _blockHashes = [];

    public Sequence(RequestState request, int index, IReadOnlyList<int> prompt, SequenceSamplingState sampling, IncrementalDetokenizer detokenizer)
    {
        Request = request;
        Index = index;
        Tokens = [.. prompt];
        PromptLength = prompt.Count;
        Sampling = sampling;
        Detokenizer = detokenizer;
        Stops = new StopStringMatcher(sampling.Params.Stop);
    }

    public RequestState Request { get; }

    /// <summary>An embedding's pooling state (null for a generation): its prompt is prefilled, pooled and nothing sampled.</summary>
    public EmbeddingAccumulator? Embedding { get; init; }

    /// <summary>Which of the request's n completions this is.</summary>
    public int Index { get; }

    /// <summary>The request's priority: lower runs first under the priority policy.</summary>
    public int Priority => Request.Priority;

    /// <summary>The request's submission order: FCFS order, and the tie-break among equal priorities.</summary>
    public long Order => Request.Order;

    /// <summary>Completions the request asked for (n).</summary>
    public int N => Request.N;

    /// <summary>True once the request's first sequence has forked into its n sequences.</summary>
    public bool Forked => Request.Forked;

    /// <summary>True while this is the first sequence of an n &gt; 1 request: its first logits fork it.</summary>
    public bool ForksAtFirstToken => !Forked && N > 1;

    /// <summary>
    /// Places it takes in the running set: one, or n for the sequence of an n &gt; 1 request that has not
    /// forked yet, since it becomes n sequences after its prompt.
    /// </summary>
    public int Slots => Forked ? 1 : N;

    public SequenceStatus Status { get; set; } = SequenceStatus.Waiting;
    public List<int> Tokens { get; }
    public int PromptLength { get; }
    public int OutputLength => Tokens.Count - PromptLength;

    /// <summary>Leading tokens whose keys and values are in the cache.</summary>
    public int NumComputed { get; set; }

    /// <summary>Tokens this step computes (set by the scheduler, read by the engine).</summary>
    public int ScheduledTokens { get; set; }

    public int Preemptions { get; set; }
    public SequenceSamplingState Sampling { get; }
    public IncrementalDetokenizer Detokenizer { get; }
    public StopStringMatcher Stops { get; }
    public FinishReason? Finish { get; set; }

    /// <summary>The block table; only the first <see cref="BlockCount"/> entries are meaningful.</summary>
    public int[] BlockTable => _blockTable;

    public int BlockCount { get; private set; }

    /// <summary>Content keys of the leading full blocks registered so far.</summary>
    public IReadOnlyList<UInt128> BlockHashes => _blockHashes;

    public void AddBlock(int block)
    {
        if (BlockCount == _blockTable.Length)
        {
            Array.Resize(ref _blockTable, _blockTable.Length * 2);
        }
        _blockTable[BlockCount++] = block;
    }

    public void AddBlockHash(UInt128 hash) => _blockHashes.Add(hash);

    /// <summary>Releases every block; the sequence holds none afterwards.</summary>
    public void ReleaseBlocks(BlockManager blocks)
    {
        for (int i = 0; i < BlockCount; i++)
        {
            blocks.Release(_blockTable[i]);
        }
        BlockCount = 0;
        _blockHashes.Clear();
        NumComputed = 0;
    }

    /// <summary>A copy sharing this sequence's blocks (all but a partial last block, which the caller copies).</summary>
    public void CopyStateFrom(Sequence parent, BlockManager blocks, Func<int, int> copyPartialBlock)
    {
        Tokens.Clear();
        Tokens.AddRange(parent.Tokens);
        NumComputed = parent.NumComputed;
        int bs = blocks.BlockSize;
        int full = parent.NumComputed / bs;
        for (int i = 0; i < parent.BlockCount; i++)
        {
            int b = parent._blockTable[i];
            if (i < full)
            {
                blocks.Share(b);
                AddBlock(b);
            }
            else
            {
                AddBlock(copyPartialBlock(b));
            }
        }
        _blockHashes.AddRange(parent._blockHashes);
    }
}
