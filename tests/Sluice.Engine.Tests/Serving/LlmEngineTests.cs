using Sluice.Engine.Sampling;
using Sluice.Engine.Scheduling;
using Sluice.Engine.Serving;
using Sluice.Engine.Tests.Support;
using static Sluice.Engine.Tests.Support.EngineTestKit;

namespace Sluice.Engine.Tests.Serving;

public sealed class LlmEngineTests
{
    [Fact]
    public async Task BatchInvariance_32ConcurrentGreedyRequests_EqualEachAlone()
    {
        using var model = TestModels.LoadTiny();
        var rng = new Random(3);
        var prompts = Enumerable.Range(0, 32).Select(i =>
            Prompt(model, new string((char)('a' + i % 26), 1) + string.Concat(Enumerable.Range(0, rng.Next(1, 120)).Select(_ => (char)rng.Next('a', 'z'))))).ToArray();
        var lengths = Enumerable.Range(0, 32).Select(_ => rng.Next(1, 40)).ToArray();

        var alone = new List<int>[32];
        using (var engine = new LlmEngine(model, Options(maxSeqs: 1)))
        {
            for (int i = 0; i < 32; i++)
            {
                alone[i] = (await Collect(engine.Submit(Greedy(prompts[i], lengths[i])))).Tokens;
            }
        }
        using (var engine = new LlmEngine(model, Options(maxSeqs: 32, maxTokens: 96)))
        {
            var handles = Enumerable.Range(0, 32).Select(i => engine.Submit(Greedy(prompts[i], lengths[i], $"r{i}"))).ToArray();
            var together = await Task.WhenAll(handles.Select(Collect));
            for (int i = 0; i < 32; i++)
            {
                Assert.Equal(lengths[i], together[i].Tokens.Count);
                Assert.True(alone[i].SequenceEqual(together[i].Tokens), $"request {i} differs in a batch");
            }
        }
    }

    [Fact]
    public async Task PrefixCache_SharedPrefix_ComputesOnlyNewTokensAndMatchesUncached()
    {
        using var model = TestModels.LoadTiny();
        var prefix = Prompt(model, string.Concat(Enumerable.Repeat("the shared system prompt. ", 8)));
        var second = prefix.Concat(Prompt(model, "a different question")[1..]).ToArray();

        List<int> uncached;
        using (var engine = new LlmEngine(model, Options(prefixCaching: false)))
        {
            uncached = (await Collect(engine.Submit(Greedy(second, 10)))).Tokens;
        }
        using (var engine = new LlmEngine(model, Options()))
        {
            await Collect(engine.Submit(Greedy(prefix, 4)));
            await Idle(engine);
            long before = engine.Stats.ComputedTokens;
            var cached = (await Collect(engine.Submit(Greedy(second, 10)))).Tokens;
            await Idle(engine);
            long computed = engine.Stats.ComputedTokens - before;
            int reusable = (prefix.Length / 16) * 16;
            Assert.Equal(uncached, cached);
            Assert.True(engine.Stats.PrefixCacheHits >= reusable, $"hits {engine.Stats.PrefixCacheHits} < {reusable}");
            // prompt tokens beyond the cached blocks, plus 9 decode steps
            Assert.Equal(second.Length - reusable + 9, computed);
        }
    }

    [Fact]
    public async Task Pressure_KvTooSmallForAll_EveryRequestCompletesIdenticallyWithPreemptions()
    {
        using var model = TestModels.LoadTiny();
        var prompts = Enumerable.Range(0, 12).Select(i => Prompt(model, $"request number {i} asks something long enough to fill blocks")).ToArray();
        var expected = new List<int>[12];
        using (var engine = new LlmEngine(model, Options(maxSeqs: 1)))
        {
            for (int i = 0; i < 12; i++)
            {
                expected[i] = (await Collect(engine.Submit(Greedy(prompts[i], 60)))).Tokens;
            }
        }
        var c = model.Config;
        long perBlock = Sluice.Engine.Caching.PagedKvCache.BytesPerBlock(c.BlockCount, c.HeadCountKv, c.HeadDim, 16, Sluice.Engine.Caching.KvCacheType.F16);
        using (var engine = new LlmEngine(model, Options(maxSeqs: 12, kvBytes: perBlock * 24, prefixCaching: false)))
        {
            var outs = await Task.WhenAll(prompts.Select((p, i) => Collect(engine.Submit(Greedy(p, 60, $"r{i}")))));
            for (int i = 0; i < 12; i++)
            {
                Assert.Equal(expected[i], outs[i].Tokens);
            }
            await Idle(engine);
            Assert.True(engine.Stats.Preemptions > 0, "expected preemptions under pressure");
            Assert.Equal(engine.Stats.KvBlocksTotal, engine.Stats.KvBlocksFree);
        }
    }

    [Fact]
    public async Task Cancellation_ThousandsOfRequests_LeakNoBlocks()
    {
        using var model = TestModels.LoadTiny();
        using var engine = new LlmEngine(model, Options(maxSeqs: 16));
        var rng = new Random(5);
        var tasks = new List<Task>();
        for (int i = 0; i < 2000; i++)
        {
            var cts = new CancellationTokenSource();
            var h = engine.Submit(Greedy(Prompt(model, $"p{i % 37} {new string('x', i % 50)}"), rng.Next(1, 12), $"c{i}", cts.Token));
            int mode = rng.Next(3);
            if (mode == 0)
            {
                cts.Cancel();
            }
            else if (mode == 1)
            {
                cts.CancelAfter(rng.Next(0, 3));
            }
            tasks.Add(Collect(h).ContinueWith(_ => cts.Dispose(), TaskScheduler.Default));
        }
        await Task.WhenAll(tasks);
        await Idle(engine);
        Assert.Equal(engine.Stats.KvBlocksTotal, engine.Stats.KvBlocksFree);
        Assert.Equal(2000, engine.Stats.RequestsFinished);
    }

    [Theory]
    [InlineData(SchedulingPolicy.Priority)]
    [InlineData(SchedulingPolicy.Fcfs)]
    public async Task Generate_RequestsQueuedBehindABlocker_StartInPolicyOrder(SchedulingPolicy policy)
    {
        using var model = TestModels.LoadTiny();
        var prompt = Prompt(model, "a prompt that waits its turn");
        using var engine = new LlmEngine(model, Options(maxSeqs: 1) with { SchedulingPolicy = policy });
        // one long request holds the only slot while three more queue behind it
        var blocker = engine.Submit(Greedy(prompt, 200, "blocker") with { Priority = 9 });
        Assert.True(await blocker.Events.WaitToReadAsync());
        var queued = new[] { ("low", 5), ("high", 0), ("mid", 2) }
            .Select(p => engine.Submit(Greedy(prompt, 3, p.Item1) with { Priority = p.Item2 })).ToArray();
        Assert.Null(blocker.State.Finished);
        await Collect(blocker);
        await Task.WhenAll(queued.Select(Collect));
        var started = queued.OrderBy(h => h.State.FirstScheduled!.Value).Select(h => h.Id).ToArray();
        Assert.Equal(policy == SchedulingPolicy.Priority ? ["high", "mid", "low"] : ["low", "high", "mid"], started);
    }

    [Fact]
    public async Task Cancel_MidGeneration_EndsWithCancelledAndFreesBlocks()
    {
        using var model = TestModels.LoadTiny();
        using var engine = new LlmEngine(model, Options());
        using var cts = new CancellationTokenSource();
        var h = engine.Submit(Greedy(Prompt(model, "go on forever"), 900, ct: cts.Token));
        int seen = 0;
        FinishReason? finish = null;
        await foreach (var ev in h.Events.ReadAllAsync())
        {
            if (++seen == 3)
            {
                cts.Cancel();
            }
            finish = ev.Finish ?? finish;
        }
        Assert.Equal(FinishReason.Cancelled, finish);
        await Idle(engine);
        Assert.Equal(engine.Stats.KvBlocksTotal, engine.Stats.KvBlocksFree);
    }

    [Fact]
    public async Task ChunkedPrefill_LongPromptWithSmallBudget_MatchesOneShot()
    {
        using var model = TestModels.LoadTiny();
        var prompt = Prompt(model, string.Concat(Enumerable.Range(0, 40).Select(i => $"w{i} ")));
        List<int> oneShot;
        using (var engine = new LlmEngine(model, Options(maxTokens: 512)))
        {
            oneShot = (await Collect(engine.Submit(Greedy(prompt, 8)))).Tokens;
        }
        using (var engine = new LlmEngine(model, Options(maxTokens: 17)))
        {
            var chunked = (await Collect(engine.Submit(Greedy(prompt, 8)))).Tokens;
            Assert.Equal(oneShot, chunked);
            Assert.True(engine.Stats.Steps >= prompt.Length / 17 + 8);
        }
    }

    [Fact]
    public async Task SeededSampling_SameSeed_SameTokensWhateverTheBatch()
    {
        using var model = TestModels.LoadTiny();
        var prompt = Prompt(model, "seeded");
        var p = new SamplingParams { Temperature = 3f, TopP = 0.95f, TopK = 50, Seed = 1234, MaxTokens = 30, IgnoreEos = true };
        using var engine = new LlmEngine(model, Options());
        var alone = (await Collect(engine.Submit(new GenerationRequest { Id = "a", PromptTokens = prompt, Sampling = p }))).Tokens;
        var crowd = Enumerable.Range(0, 8).Select(i => engine.Submit(Greedy(Prompt(model, $"noise {i}"), 30, $"n{i}"))).ToList();
        var again = (await Collect(engine.Submit(new GenerationRequest { Id = "b", PromptTokens = prompt, Sampling = p }))).Tokens;
        await Task.WhenAll(crowd.Select(Collect));
        Assert.Equal(alone, again);
        var other = (await Collect(engine.Submit(new GenerationRequest { Id = "c", PromptTokens = prompt, Sampling = p with { Seed = 99 } }))).Tokens;
        Assert.NotEqual(alone, other);
    }

    [Fact]
    public async Task Generate_NGreaterThanOne_SharesPromptBlocksAndGivesDistinctSeededCompletions()
    {
        using var model = TestModels.LoadTiny();
        var prompt = Prompt(model, string.Concat(Enumerable.Repeat("shared prompt ", 6)));
        using var engine = new LlmEngine(model, Options());
        var p = new SamplingParams { Temperature = 3f, Seed = 5, MaxTokens = 12, IgnoreEos = true, N = 4 };
        var outs = await CollectAll(engine.Submit(new GenerationRequest { Id = "n", PromptTokens = prompt, Sampling = p }));
        Assert.Equal(4, outs.Count);
        Assert.All(outs.Values, o => Assert.Equal(12, o.Tokens.Count));
        Assert.True(outs.Values.Select(o => string.Join(",", o.Tokens)).Distinct().Count() > 1);
        await Idle(engine);
        // the prompt was computed once, then each of the 4 sequences decoded 11 more tokens
        Assert.Equal(prompt.Length + 4 * 11, engine.Stats.ComputedTokens);
        Assert.Equal(engine.Stats.KvBlocksTotal, engine.Stats.KvBlocksFree);
    }

    [Fact]
    public async Task NGreaterThanOne_ConcurrentRequestsBeyondMaxNumSeqs_EveryRequestCompletesWithinTheCap()
    {
        // issue 16: five n = 16 requests against max-num-seqs 64 forked past the cap and wrote logits past their buffer
        using var model = TestModels.LoadTiny();
        using var engine = new LlmEngine(model, Options(maxSeqs: 8, maxTokens: 64));
        var p = new SamplingParams { Temperature = 1f, Seed = 3, MaxTokens = 8, IgnoreEos = true, N = 4 };
        var prompt = Prompt(model, "hi");
        int maxRunning = 0;
        using var watch = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!watch.IsCancellationRequested)
            {
                maxRunning = Math.Max(maxRunning, engine.Stats.Running);
                await Task.Yield();
            }
        });
        for (int round = 0; round < 3; round++)
        {
            var handles = Enumerable.Range(0, 5).Select(i => engine.Submit(new GenerationRequest { Id = $"n{round}.{i}", PromptTokens = prompt, Sampling = p })).ToArray();
            var outs = await Task.WhenAll(handles.Select(CollectAll));
            Assert.All(outs, o =>
            {
                Assert.Equal(4, o.Count);
                Assert.All(o.Values, s => Assert.Equal(FinishReason.Length, s.Finish));
            });
        }
        watch.Cancel();
        await watcher;
        Assert.InRange(maxRunning, 1, 8);
        await Idle(engine);
        Assert.Equal(engine.Stats.KvBlocksTotal, engine.Stats.KvBlocksFree);
    }

    [Fact]
    public async Task StopString_AcrossTokenBoundaries_StopsAndHoldsItBack()
    {
        using var model = TestModels.LoadTiny();
        var prompt = Prompt(model, "stop test");
        using var engine = new LlmEngine(model, Options());
        var free = await Collect(engine.Submit(Greedy(prompt, 40)));
        // take a 3-character piece of the free-running text (the byte vocabulary makes it span 3 tokens)
        Assert.True(free.Text.Length >= 12);
        string stop = free.Text.Substring(8, 3);
        int at = free.Text.IndexOf(stop, StringComparison.Ordinal);
        var req = Greedy(prompt, 40) with { Sampling = new SamplingParams { Temperature = 0, MaxTokens = 40, IgnoreEos = true, Stop = [stop] } };
        var stopped = await Collect(engine.Submit(req));
        Assert.Equal(FinishReason.Stop, stopped.Finish);
        Assert.Equal(stop, stopped.StopReason);
        Assert.Equal(free.Text[..at], stopped.Text);
    }

    [Fact]
    public async Task Generate_MaxTokensReached_FinishesWithLength()
    {
        using var model = TestModels.LoadTiny();
        using var engine = new LlmEngine(model, Options());
        var o = await Collect(engine.Submit(Greedy(Prompt(model, "x"), 5)));
        Assert.Equal(5, o.Tokens.Count);
        Assert.Equal(FinishReason.Length, o.Finish);
    }

    [Fact]
    public void Submit_PromptLongerThanContext_IsRefusedNamingBothNumbers()
    {
        using var model = TestModels.LoadTiny();
        using var engine = new LlmEngine(model, Options() with { MaxModelLen = 100 });
        var ex = Assert.Throws<RequestRejectedException>(() => engine.Submit(Greedy(Enumerable.Repeat(5, 95).ToArray(), 10)));
        Assert.Equal(EngineRejection.TooLong, ex.Reason);
        Assert.Contains("100", ex.Message);
        Assert.Contains("95", ex.Message);
    }

    [Fact]
    public void Submit_HugeMaxTokens_IsRefusedNotWrappedAround()
    {
        using var model = TestModels.LoadTiny();
        using var engine = new LlmEngine(model, Options());
        var req = Greedy([1, 2, 3], 4) with { Sampling = new SamplingParams { Temperature = 0, MaxTokens = int.MaxValue } };
        var ex = Assert.Throws<RequestRejectedException>(() => engine.Submit(req));
        Assert.Equal(EngineRejection.TooLong, ex.Reason);
        Assert.Contains("2147483650", ex.Message);
    }

    [Fact]
    public void Submit_BadInput_IsRefusedWithReason()
    {
        using var model = TestModels.LoadTiny();
        using var engine = new LlmEngine(model, Options());
        Assert.Equal(EngineRejection.InvalidRequest, Assert.Throws<RequestRejectedException>(() => engine.Submit(Greedy([], 4))).Reason);
        Assert.Equal(EngineRejection.InvalidRequest, Assert.Throws<RequestRejectedException>(() => engine.Submit(Greedy([1, 999999], 4))).Reason);
        var bad = Greedy([1, 2], 4) with { Sampling = new SamplingParams { TopP = 0 } };
        Assert.Contains("top_p", Assert.Throws<RequestRejectedException>(() => engine.Submit(bad)).Message);
    }
}
