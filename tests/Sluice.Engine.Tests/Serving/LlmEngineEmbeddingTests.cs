using Sluice.Engine.Caching;
using Sluice.Engine.Kernels;
using Sluice.Engine.Models;
using Sluice.Engine.Serving;
using Sluice.Engine.Tests.Support;
using Sluice.Engine.Threading;
using static Sluice.Engine.Tests.Support.EngineTestKit;

namespace Sluice.Engine.Tests.Serving;

public sealed class LlmEngineEmbeddingTests
{
    private static GenerationRequest Embed(int[] prompt, EmbeddingPooling pooling, bool normalize = true, string id = "e") => new()
    {
        Id = id,
        PromptTokens = prompt,
        Embedding = new EmbeddingSpec(pooling, normalize),
    };

    private static async Task<float[]> Vector(RequestHandle handle)
    {
        float[]? v = null;
        int events = 0;
        await foreach (var ev in handle.Events.ReadAllAsync())
        {
            events++;
            Assert.Equal(-1, ev.Token);
            Assert.Equal(FinishReason.Stop, ev.Finish);
            v = ev.Embedding;
        }
        Assert.Equal(1, events);
        return v ?? throw new InvalidOperationException("no embedding");
    }

    /// <summary>
    /// The reference: the prompt run one token per forward pass (as decode runs), each token's final hidden state after the
    /// output norm taken from its own pass, a separate path from the engine's chunked prefill and its pooling.
    /// </summary>
    private static unsafe double[][] HiddenStatesOneByOne(LoadedModel model, int[] prompt)
    {
        var c = model.Config;
        int d = c.EmbeddingLength;
        using var pool = new WorkerPool(2);
        using var transformer = new Transformer(model.Weights, pool);
        int blockSize = 16, blocks = (prompt.Length / blockSize) + 1;
        using var cache = new PagedKvCache(c.BlockCount, c.HeadCountKv, c.HeadDim, blockSize, blocks, KvCacheType.F16);
        int[] table = [.. Enumerable.Range(0, blocks)];
        var batch = new ForwardBatch(1);
        using var logits = new NativeBuffer<float>(c.VocabSize);
        using var hidden = new NativeBuffer<float>(d);
        var rows = new double[prompt.Length][];
        for (int t = 0; t < prompt.Length; t++)
        {
            batch.Clear();
            batch.Add(prompt[t], t, table, wantLogits: false, wantHidden: true);
            transformer.Forward(batch, cache, logits.Pointer, hidden.Pointer);
            rows[t] = [.. hidden.Span.ToArray().Select(x => (double)x)];
        }
        return rows;
    }

    private static float[] Normalized(double[] v)
    {
        double norm = Math.Sqrt(v.Sum(x => x * x));
        return [.. v.Select(x => (float)(x / norm))];
    }

    private static void AssertClose(float[] expected, float[] actual, float tolerance = 1e-4f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"component {i}: expected {expected[i]}, got {actual[i]}");
        }
    }

    [Fact]
    public async Task Embed_MeanPooling_EqualsMeanOfPerTokenHiddenStatesComputedOneByOne()
    {
        using var model = TestModels.LoadTiny();
        var prompt = Prompt(model, "the quick brown fox jumps over the lazy dog, and then it runs away into the woods");
        var rows = HiddenStatesOneByOne(model, prompt);
        var mean = Enumerable.Range(0, rows[0].Length).Select(i => rows.Average(r => r[i])).ToArray();

        using var engine = new LlmEngine(model, Options(maxTokens: 16)); // several prefill chunks
        var normalized = await Vector(engine.Submit(Embed(prompt, EmbeddingPooling.Mean)));
        var raw = await Vector(engine.Submit(Embed(prompt, EmbeddingPooling.Mean, normalize: false)));

        AssertClose(Normalized(mean), normalized);
        AssertClose([.. mean.Select(x => (float)x)], raw, 1e-3f);
        Assert.Equal(1.0, Math.Sqrt(normalized.Sum(x => (double)x * x)), 1e-5);
    }

    [Fact]
    public async Task Embed_LastPooling_EqualsLastTokensHiddenStateNormalized()
    {
        using var model = TestModels.LoadTiny();
        var prompt = Prompt(model, "in the beginning was the word, and the word was with the model");
        var rows = HiddenStatesOneByOne(model, prompt);

        using var engine = new LlmEngine(model, Options(maxTokens: 16));
        var v = await Vector(engine.Submit(Embed(prompt, EmbeddingPooling.Last)));

        AssertClose(Normalized(rows[^1]), v);
    }

    [Fact]
    public async Task Embed_BatchedWithGenerations_SameVectorsAsOneByOne()
    {
        using var model = TestModels.LoadTiny();
        var rng = new Random(5);
        var prompts = Enumerable.Range(0, 12)
            .Select(i => Prompt(model, string.Concat(Enumerable.Range(0, rng.Next(1, 90)).Select(_ => (char)rng.Next('a', 'z'))))).ToArray();

        var alone = new float[prompts.Length][];
        using (var engine = new LlmEngine(model, Options(maxSeqs: 1)))
        {
            for (int i = 0; i < prompts.Length; i++)
            {
                alone[i] = await Vector(engine.Submit(Embed(prompts[i], i % 2 == 0 ? EmbeddingPooling.Mean : EmbeddingPooling.Last)));
            }
        }
        using (var engine = new LlmEngine(model, Options(maxSeqs: 16, maxTokens: 64)))
        {
            var generations = Enumerable.Range(0, 4).Select(i => engine.Submit(Greedy(prompts[i], 20, $"g{i}"))).ToArray();
            var handles = Enumerable.Range(0, prompts.Length)
                .Select(i => engine.Submit(Embed(prompts[i], i % 2 == 0 ? EmbeddingPooling.Mean : EmbeddingPooling.Last, id: $"e{i}"))).ToArray();
            var together = await Task.WhenAll(handles.Select(Vector));
            foreach (var g in generations)
            {
                Assert.Equal(20, (await Collect(g)).Tokens.Count);
            }
            for (int i = 0; i < prompts.Length; i++)
            {
                AssertClose(alone[i], together[i], 1e-5f);
            }
            await Idle(engine);
            Assert.Equal(engine.Stats.KvBlocksTotal, engine.Stats.KvBlocksFree);
        }
    }

    [Fact]
    public async Task Embed_Finished_KeepsNoKvBlocksNorPrefixCache()
    {
        using var model = TestModels.LoadTiny();
        var prompt = Prompt(model, string.Concat(Enumerable.Repeat("a long shared prompt of many words. ", 6)));
        using var engine = new LlmEngine(model, Options());
        await Vector(engine.Submit(Embed(prompt, EmbeddingPooling.Mean)));
        await Vector(engine.Submit(Embed(prompt, EmbeddingPooling.Last)));
        await Idle(engine);
        Assert.Equal(0, engine.Stats.KvCachedBlocks);
        Assert.Equal(engine.Stats.KvBlocksTotal, engine.Stats.KvBlocksFree);
    }

    [Fact]
    public void Embed_InputLongerThanContext_RejectedAsTooLong()
    {
        using var model = TestModels.LoadTiny();
        using var engine = new LlmEngine(model, Options() with { MaxModelLen = 64 });
        var ok = engine.Submit(Embed([.. Enumerable.Repeat(5, 64)], EmbeddingPooling.Last)); // the whole context: nothing follows it
        var ex = Assert.Throws<RequestRejectedException>(() => engine.Submit(Embed([.. Enumerable.Repeat(5, 65)], EmbeddingPooling.Last)));
        Assert.Equal(EngineRejection.TooLong, ex.Reason);
        Assert.Contains("65", ex.Message);
        ok.Abort();
    }
}
