using Sluice.Engine.Caching;
using Sluice.Engine.Models;
using Sluice.Engine.Sampling;
using Sluice.Engine.Serving;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Tests.Support;

/// <summary>Runs requests through an engine and collects what each produced.</summary>
internal static class EngineTestKit
{
    public sealed record Output(List<int> Tokens, string Text, FinishReason? Finish, string? StopReason);

    public static EngineOptions Options(int maxSeqs = 32, int maxTokens = 256, long kvBytes = 64 << 20, bool prefixCaching = true) => new()
    {
        MaxNumSeqs = maxSeqs,
        MaxNumBatchedTokens = maxTokens,
        KvCacheMemory = kvBytes,
        EnablePrefixCaching = prefixCaching,
        Threads = 2,
    };

    public static int[] Prompt(LoadedModel model, string text) => model.Tokenizer.Encode(text, addSpecial: true);

    /// <summary>One forward pass of <paramref name="text"/> (special tokens added) through the model: the last token's logits.</summary>
    public static unsafe float[] PromptLogits(LoadedModel model, string text)
    {
        var prompt = Prompt(model, text);
        int blocks = (prompt.Length + 15) / 16;
        using var pool = new WorkerPool(2);
        using var transformer = new Transformer(model.Weights, pool);
        using var cache = new PagedKvCache(model.Config.BlockCount, model.Config.HeadCountKv, model.Config.HeadDim, 16, blocks, KvCacheType.F32);
        var batch = new ForwardBatch(prompt.Length);
        int[] table = [.. Enumerable.Range(0, blocks)];
        for (int i = 0; i < prompt.Length; i++)
        {
            batch.Add(prompt[i], i, table, i == prompt.Length - 1);
        }
        var logits = new float[model.Config.VocabSize];
        fixed (float* l = logits)
        {
            transformer.Forward(batch, cache, l);
        }
        return logits;
    }

    public static GenerationRequest Greedy(int[] prompt, int maxTokens, string id = "r", CancellationToken ct = default) => new()
    {
        Id = id,
        PromptTokens = prompt,
        Sampling = new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true },
        CancellationToken = ct,
    };

    /// <summary>Reads a single-sequence request to its end.</summary>
    public static async Task<Output> Collect(RequestHandle handle)
    {
        var all = await CollectAll(handle);
        return all[0];
    }

    /// <summary>Reads every sequence of a request (n may be > 1) to its end.</summary>
    public static async Task<Dictionary<int, Output>> CollectAll(RequestHandle handle)
    {
        var map = new Dictionary<int, Output>();
        await foreach (var ev in handle.Events.ReadAllAsync())
        {
            if (!map.TryGetValue(ev.SequenceIndex, out var o))
            {
                o = new Output([], "", null, null);
            }
            if (ev.Token >= 0)
            {
                o.Tokens.Add(ev.Token);
            }
            map[ev.SequenceIndex] = o with { Text = o.Text + ev.Text, Finish = ev.Finish ?? o.Finish, StopReason = ev.StopReason ?? o.StopReason };
        }
        return map;
    }

    /// <summary>Waits until the engine has processed everything it was given.</summary>
    public static async Task Idle(LlmEngine engine)
    {
        for (int i = 0; i < 500; i++)
        {
            var s = engine.Stats;
            if (s.Running == 0 && s.Waiting == 0)
            {
                return;
            }
            await Task.Delay(10);
        }
        throw new TimeoutException("engine did not become idle");
    }
}
