using Sluice.Engine.Caching;
using Sluice.Engine.Models;
using Sluice.Engine.Sampling;
using Sluice.Engine.Serving;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Serving;

/// <summary>
/// End to end through the tokenizer and the engine: each golden prompt is tokenized from its text and
/// generated greedily (ignore_eos, as llama-server was asked); the tokens must equal llama.cpp's up to
/// the first position whose top-1 margin is below the tolerance (there either of the top two is fine,
/// and the sequences may diverge afterwards).
/// </summary>
public sealed class FreeRunningTests
{
    [SkippableTheory]
    [InlineData("tiny-llama3-f32", KvCacheType.F32, true, 0.1)]
    [InlineData("tiny-llama-f16", KvCacheType.F16, false, 0.1)]
    [InlineData("tiny-qwen2-f16", KvCacheType.F16, false, 0.1)]
    [InlineData("tiny-llama-q8_0", KvCacheType.F32, true, 1.0)]
    [InlineData("tiny-qwen2-q8_0", KvCacheType.F32, true, 1.0)]
    [InlineData("tiny-llama-q4_k_m", KvCacheType.F32, true, 1.0)]
    [InlineData("tiny-llama-q4_0", KvCacheType.F32, true, 1.0)]
    public async Task GreedyGeneration_FromPromptText_MatchesLlamaCpp(string model, KvCacheType kv, bool f32Golden, double margin)
    {
        using var loaded = ModelLoader.Load(Conformance.Model(model + ".gguf"));
        using var engine = new LlmEngine(loaded, new EngineOptions { MaxNumSeqs = 11, KvCacheType = kv, KvCacheMemory = 256 << 20, Threads = 2 });
        var records = GoldenRecord.Load(Conformance.Golden(model + ".jsonl", f32Golden));
        var runs = records.Select(r =>
        {
            var ids = loaded.Tokenizer.Encode(r.Prompt, addSpecial: true);
            Assert.Equal(r.PromptTokens, ids);
            var h = engine.Submit(new GenerationRequest
            {
                Id = r.PromptId,
                PromptTokens = ids,
                Sampling = new SamplingParams { Temperature = 0, MaxTokens = r.GeneratedTokens.Length, IgnoreEos = true },
            });
            return (r, task: Collect(h));
        }).ToList();
        foreach (var (r, task) in runs)
        {
            var got = await task;
            for (int i = 0; i < r.GeneratedTokens.Length; i++)
            {
                if (r.Positions[i].Margin < margin)
                {
                    var top2 = r.Positions[i].TopLogProbs.Take(2).Select(t => t.Id);
                    Assert.Contains(got[i], top2);
                    break;
                }
                Assert.True(got[i] == r.GeneratedTokens[i], $"{model} {r.PromptId}: position {i}: engine {got[i]}, llama.cpp {r.GeneratedTokens[i]}");
            }
        }
    }

    private static async Task<List<int>> Collect(RequestHandle h)
    {
        var tokens = new List<int>();
        await foreach (var ev in h.Events.ReadAllAsync())
        {
            if (ev.Token >= 0)
            {
                tokens.Add(ev.Token);
            }
        }
        return tokens;
    }
}
