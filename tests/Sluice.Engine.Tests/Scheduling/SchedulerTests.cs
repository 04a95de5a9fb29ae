using Sluice.Engine.Caching;
using Sluice.Engine.Scheduling;
using Sluice.Engine.Tests.Support;
using static Sluice.Engine.Tests.Support.TestSequences;

namespace Sluice.Engine.Tests.Scheduling;

/// <summary>
/// The scheduler on its own, over a block manager of a few blocks of 4 tokens: the exact sequences, token counts
/// and block tables of each step. <see cref="TestSequences.Complete"/> plays the engine between steps.
/// </summary>
public sealed class SchedulerTests : IDisposable
{
    private readonly TestSequences _requests = new();
    private readonly SchedulerOutput _output = new();

    public void Dispose() => _requests.Dispose();

    [Fact]
    public void Schedule_SeveralUnforkedNGreaterThanOneRequests_AdmitsOnlyWhatFitsAfterForking()
    {
        var scheduler = new Scheduler(new BlockManager(64, 16, enablePrefixCaching: false), maxNumSeqs: 8, maxNumBatchedTokens: 256, SchedulingPolicy.Fcfs);
        var requests = Enumerable.Range(0, 3).Select(i => _requests.New($"r{i}", promptLength: 3, n: 4)).ToArray();
        foreach (var seq in requests)
        {
            scheduler.Add(seq);
        }

        scheduler.Schedule(_output);

        // each will become 4 sequences after its prompt: two fill the 8 places, the third waits
        Assert.Equal([requests[0], requests[1]], _output.Scheduled);
        Assert.Equal(8, scheduler.RunningSlots);
        Assert.Single(scheduler.Waiting);
    }

    [Fact]
    public void Schedule_ForkedRequestsSequences_CountOneEach()
    {
        var scheduler = new Scheduler(new BlockManager(64, 16, enablePrefixCaching: false), maxNumSeqs: 5, maxNumBatchedTokens: 256, SchedulingPolicy.Fcfs);
        var forked = _requests.New("r0", promptLength: 3, n: 4);
        forked.Request.Forked = true;
        scheduler.Add(forked);
        scheduler.Add(_requests.New("r1", promptLength: 3));
        scheduler.Add(_requests.New("r2", promptLength: 3));

        scheduler.Schedule(_output);

        Assert.Equal(3, _output.Scheduled.Count);
        Assert.Equal(3, scheduler.RunningSlots);
    }

    [Fact]
    public void Schedule_RunningAndWaitingSequences_DecodesAndPrefillChunksTakeTheBudgetFirst()
    {
        var blocks = new BlockManager(16, 4, enablePrefixCaching: false);
        var scheduler = new Scheduler(blocks, maxNumSeqs: 8, maxNumBatchedTokens: 8, SchedulingPolicy.Fcfs);
        var a = _requests.New("A", promptLength: 6);
        var b = _requests.New("B", promptLength: 5);
        scheduler.Add(a);
        scheduler.Add(b);

        scheduler.Schedule(_output);
        Assert.Equal("A:6 B:2", Scheduled(_output));
        Assert.Equal(8, _output.TotalTokens);
        Assert.Equal([0, 1], Table(a));
        Assert.Equal([2], Table(b));
        Complete(scheduler, _output);

        // A decodes its first output token and B takes the rest of its prompt before the newcomer C gets the remainder
        var c = _requests.New("C", promptLength: 10);
        scheduler.Add(c);
        scheduler.Schedule(_output);
        Assert.Equal("A:1 B:3 C:4", Scheduled(_output));
        Assert.Equal(8, _output.TotalTokens);
        Assert.Equal([0, 1], Table(a));
        Assert.Equal([2, 3], Table(b));
        Assert.Equal([4], Table(c));
        Assert.Empty(_output.Preempted);
    }

    [Fact]
    public void Schedule_PromptLongerThanTheBudget_PrefillsInChunksAndAdmitsNothingWhileTheBudgetIsSpent()
    {
        var blocks = new BlockManager(8, 4, enablePrefixCaching: false);
        var scheduler = new Scheduler(blocks, maxNumSeqs: 8, maxNumBatchedTokens: 4, SchedulingPolicy.Fcfs);
        var a = _requests.New("A", promptLength: 10);
        var b = _requests.New("B", promptLength: 3);
        scheduler.Add(a);
        scheduler.Add(b);

        var steps = new List<string>();
        var computed = new List<int>();
        for (int step = 0; step < 4; step++)
        {
            scheduler.Schedule(_output);
            steps.Add(Scheduled(_output));
            Complete(scheduler, _output);
            computed.Add(a.NumComputed);
        }

        Assert.Equal(["A:4", "A:4", "A:2 B:2", "A:1 B:1"], steps);
        Assert.Equal([4, 8, 10, 11], computed);
        Assert.Equal([0, 1, 2], Table(a));
        Assert.Equal([3], Table(b));
        Assert.Equal(12, a.Tokens.Count);
        Assert.Equal(4, b.Tokens.Count);
    }

    [Fact]
    public void Schedule_BlocksRunOut_PreemptsTheNewestWhichWaitsAheadOfLaterRequestsAndIsRecomputed()
    {
        var blocks = new BlockManager(4, 4, enablePrefixCaching: false);
        var scheduler = new Scheduler(blocks, maxNumSeqs: 4, maxNumBatchedTokens: 16, SchedulingPolicy.Fcfs);
        var a = _requests.New("A", promptLength: 8);
        var b = _requests.New("B", promptLength: 8);
        scheduler.Add(a);
        scheduler.Add(b);
        scheduler.Schedule(_output);
        Assert.Equal("A:8 B:8", Scheduled(_output));
        Assert.Equal([0, 1], Table(a));
        Assert.Equal([2, 3], Table(b));
        Assert.Equal(0, blocks.FreeBlocks);
        Complete(scheduler, _output);
        var c = _requests.New("C", promptLength: 4);
        scheduler.Add(c);

        // A's 9th token needs a third block: B, the newest, gives its two back, and nothing is admitted this step
        scheduler.Schedule(_output);
        Assert.Equal("A:1", Scheduled(_output));
        Assert.Equal("B", Preempted(_output));
        Assert.Equal("B C", Waiting(scheduler));
        Assert.Equal([0, 1, 2], Table(a));
        Assert.Equal((SequenceStatus.Waiting, 0, 0, 1), (b.Status, b.BlockCount, b.NumComputed, b.Preemptions));
        Assert.Equal(9, b.Tokens.Count);
        Assert.Equal(1, scheduler.Preemptions);
        Assert.Equal(1, blocks.FreeBlocks);
        Complete(scheduler, _output);

        // B (9 tokens, 3 blocks) does not fit in the one free block, and C does not pass it
        scheduler.Schedule(_output);
        Assert.Equal("A:1", Scheduled(_output));
        Assert.Empty(_output.Preempted);
        Assert.Equal(1, blocks.FreeBlocks);
        Complete(scheduler, _output);

        // A finishes: B recomputes its prompt and the token it had generated, then C comes in
        scheduler.Remove(a);
        Assert.Equal(4, blocks.FreeBlocks);
        scheduler.Schedule(_output);
        Assert.Equal("B:9 C:4", Scheduled(_output));
        Assert.Equal([3, 0, 1], Table(b));
        Assert.Equal([2], Table(c));
        Assert.Equal(1, scheduler.Preemptions);
    }

    [Theory]
    [InlineData(SchedulingPolicy.Fcfs, "A:1", "B", "B", new[] { 0, 1, 2 }, new int[0])]
    [InlineData(SchedulingPolicy.Priority, "B:1", "A", "A", new int[0], new[] { 3, 0 })]
    public void Schedule_BlocksRunOutUnderEachPolicy_PreemptsTheNewestOrTheLowestPriority(
        SchedulingPolicy policy, string scheduled, string preempted, string waiting, int[] tableA, int[] tableB)
    {
        var blocks = new BlockManager(4, 4, enablePrefixCaching: false);
        var scheduler = new Scheduler(blocks, maxNumSeqs: 4, maxNumBatchedTokens: 16, policy);
        var a = _requests.New("A", promptLength: 8, priority: 5);
        scheduler.Add(a);
        scheduler.Schedule(_output);
        Complete(scheduler, _output);
        var b = _requests.New("B", promptLength: 4, priority: 0);
        scheduler.Add(b);
        scheduler.Schedule(_output);
        Assert.Equal("A:1 B:4", Scheduled(_output));
        Assert.Equal(0, blocks.FreeBlocks);
        Complete(scheduler, _output);

        // B's 5th token needs a block; under priority A (priority 5) goes, though it was scheduled earlier in the step
        scheduler.Schedule(_output);

        Assert.Equal(scheduled, Scheduled(_output));
        Assert.Equal(1, _output.TotalTokens);
        Assert.Equal(preempted, Preempted(_output));
        Assert.Equal(waiting, Waiting(scheduler));
        Assert.Equal(tableA, Table(a));
        Assert.Equal(tableB, Table(b));
    }

    [Theory]
    [InlineData(SchedulingPolicy.Fcfs, "A B C", "A:4 B:4")]
    [InlineData(SchedulingPolicy.Priority, "B C A", "B:4 C:4")]
    public void Schedule_WaitingRequests_AdmitsInSubmissionOrPriorityOrder(SchedulingPolicy policy, string waiting, string scheduled)
    {
        var scheduler = new Scheduler(new BlockManager(8, 4, enablePrefixCaching: false), maxNumSeqs: 2, maxNumBatchedTokens: 64, policy);
        scheduler.Add(_requests.New("A", promptLength: 4, priority: 5));
        scheduler.Add(_requests.New("B", promptLength: 4, priority: 0));
        scheduler.Add(_requests.New("C", promptLength: 4, priority: 2));
        Assert.Equal(waiting, Waiting(scheduler));

        scheduler.Schedule(_output);

        Assert.Equal(scheduled, Scheduled(_output));
        Assert.Equal(waiting.Split(' ')[2], Waiting(scheduler));
    }

    [Fact]
    public void Schedule_NGreaterThanOneRequest_HoldsNPlacesAndItsForksShareTheFullBlocks()
    {
        var blocks = new BlockManager(8, 4, enablePrefixCaching: false);
        var scheduler = new Scheduler(blocks, maxNumSeqs: 4, maxNumBatchedTokens: 64, SchedulingPolicy.Fcfs);
        var a = _requests.New("A", promptLength: 3);
        var b = _requests.New("B", promptLength: 6, n: 4);
        var c = _requests.New("C", promptLength: 3);
        scheduler.Add(a);
        scheduler.Add(b);
        scheduler.Add(c);

        // B would be 4 sequences beside A's 1: it waits, and C waits behind it though a place is free
        scheduler.Schedule(_output);
        Assert.Equal("A:3", Scheduled(_output));
        Assert.Equal((1, 4), (a.Slots, b.Slots));
        Assert.Equal(1, scheduler.RunningSlots);
        Assert.Equal("B C", Waiting(scheduler));
        scheduler.Remove(a);

        scheduler.Schedule(_output);
        Assert.Equal("B:6", Scheduled(_output));
        Assert.Equal(4, scheduler.RunningSlots);
        Assert.Equal([1, 2], Table(b));
        Assert.True(b.ForksAtFirstToken);

        // the fork: block 1 (full) is shared by all four, block 2 (partial) copied into a block of each child's own
        scheduler.OnComputed(b);
        var children = _requests.Fork(scheduler, blocks, b);
        Assert.Equal([[1, 3], [1, 4], [1, 5]], children.Select(Table));
        Assert.Equal([4, 1, 1, 1, 1], new[] { 1, 2, 3, 4, 5 }.Select(blocks.RefCount));
        Assert.False(b.ForksAtFirstToken);
        Assert.Equal(4, scheduler.RunningSlots);
        foreach (var seq in scheduler.Running)
        {
            seq.Tokens.Add(100);
        }

        scheduler.Schedule(_output);
        Assert.Equal("B:1 B.1:1 B.2:1 B.3:1", Scheduled(_output));
        Assert.Equal("C", Waiting(scheduler));

        // freeing: the shared block returns to the free list only with its last holder
        foreach (var seq in scheduler.Running.ToArray())
        {
            scheduler.Remove(seq);
            Assert.Equal(3 - seq.Index, blocks.RefCount(1));
        }
        Assert.Equal(8, blocks.FreeBlocks);
    }

    [Fact]
    public void Schedule_PromptsWithACachedPrefix_TakeItsFullBlocksButComputeTheLastToken()
    {
        var blocks = new BlockManager(8, 4, enablePrefixCaching: true);
        var scheduler = new Scheduler(blocks, maxNumSeqs: 8, maxNumBatchedTokens: 64, SchedulingPolicy.Fcfs);
        int[] shared = [.. Enumerable.Range(1, 8)];
        var a = _requests.New("A", [.. shared, 9]);
        scheduler.Add(a);
        scheduler.Schedule(_output);
        Complete(scheduler, _output);
        Assert.Equal(2, blocks.CachedBlocks);

        // B: both full blocks come from the cache; C (exactly the shared 8 tokens) may take only the first,
        // since the block holding its last token must be computed for its logits
        var b = _requests.New("B", [.. shared, 42]);
        var c = _requests.New("C", shared);
        scheduler.Add(b);
        scheduler.Add(c);
        scheduler.Schedule(_output);

        Assert.Equal("A:1 B:1 C:4", Scheduled(_output));
        Assert.Equal([0, 1, 2], Table(a));
        Assert.Equal([0, 1, 3], Table(b));
        Assert.Equal([0, 4], Table(c));
        Assert.Equal([3, 2, 1, 1, 1], new[] { 0, 1, 2, 3, 4 }.Select(blocks.RefCount));
        Assert.Equal((0, 8, 4), (a.Request.CachedPromptTokens, b.Request.CachedPromptTokens, c.Request.CachedPromptTokens));
        Assert.Equal((26, 12), (scheduler.PrefixQueries, scheduler.PrefixHits));
        Complete(scheduler, _output);

        // all gone: every block is free, the two cached ones still findable, and taken back out of the free list
        scheduler.Remove(a);
        scheduler.Remove(b);
        scheduler.Remove(c);
        Assert.Equal((8, 2), (blocks.FreeBlocks, blocks.CachedBlocks));
        var d = _requests.New("D", [.. shared, 7]);
        scheduler.Add(d);
        scheduler.Schedule(_output);
        Assert.Equal("D:1", Scheduled(_output));
        Assert.Equal([0, 1, 5], Table(d));
        Assert.Equal(5, blocks.FreeBlocks);
    }
}
