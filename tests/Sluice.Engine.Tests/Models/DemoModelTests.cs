using System.Text.RegularExpressions;
using Sluice.Engine.Caching;
using Sluice.Engine.Models;
using Sluice.Engine.Sampling;
using Sluice.Engine.Serving;
using Sluice.Engine.Threading;
using Sluice.Engine.Tokenization;
using Xunit.Abstractions;

namespace Sluice.Engine.Tests.Models;

/// <summary>
/// The shipped demo model (tools/demo-model, trained on the King James Bible) loads, tokenizes and
/// generates like any model, and has learned the language: on held-out verses its perplexity is far
/// below the best unigram model's, and its greedy continuations are made of the corpus's words.
/// Models/DemoData holds a sample of the held-out verses and the training text's word list, both
/// written by the training tool.
/// </summary>
public sealed partial class DemoModelTests(ITestOutputHelper output)
{
    private static readonly string DataDir = Path.Combine(AppContext.BaseDirectory, "Models", "DemoData");

    [Fact]
    public void Load_ShippedFile_IsALlamaWithTokenizerTemplateAndDescription()
    {
        Assert.True(File.Exists(DemoModel.FilePath), DemoModel.FilePath);
        using var model = DemoModel.Load();
        Assert.Equal("demo", model.Format);
        Assert.Equal(DemoModel.Name, model.Name);
        Assert.Equal("llama", model.Config.Architecture);
        Assert.InRange(model.Config.VocabSize, 1000, 8192);
        Assert.Contains("King James Bible", model.Description);
        Assert.Contains("<|im_start|>", model.Tokenizer.ChatTemplate);
        Assert.InRange(new FileInfo(DemoModel.FilePath).Length, 1 << 20, 16 << 20);
    }

    [Fact]
    public void Tokenize_CorpusVerse_RoundTripsMostlyWordPerToken()
    {
        using var model = DemoModel.Load();
        const string Verse = "In the beginning God created the heaven and the earth.";
        int[] ids = model.Tokenizer.Encode(Verse, addSpecial: false);
        Assert.Equal(Verse, model.Tokenizer.Decode(ids));
        // a tokenizer trained on the corpus spells its common words as one token each: 10 words and a period
        Assert.Equal(11, ids.Length);

        int[] chat = model.Tokenizer.Encode("<|im_start|>user\nHi<|im_end|>", addSpecial: false, parseSpecial: true);
        Assert.Equal(model.Tokenizer.Encode("<|im_start|>", addSpecial: false, parseSpecial: true)[0], chat[0]);
        Assert.Single(model.Tokenizer.Encode("<|im_end|>", addSpecial: false, parseSpecial: true));
    }

    [Fact]
    public void HeldOutVerses_DemoModelPerplexity_IsFarBelowUnigram()
    {
        using var model = DemoModel.Load();
        var verses = File.ReadAllLines(Path.Combine(DataDir, "held-out.txt")).Where(l => l.Length > 0).ToArray();
        Assert.True(verses.Length >= 200, $"{verses.Length} held-out verses");
        var tok = model.Tokenizer;
        int bos = tok.Encode("x", addSpecial: true)[0];
        var encoded = verses.Select(v => tok.Encode(v, addSpecial: false)).ToArray();

        double modelNats = 0;
        int count = 0;
        using (var scorer = new Scorer(model))
        {
            foreach (var ids in encoded)
            {
                modelNats += scorer.Nats([bos, .. ids]);
                count += ids.Length;
            }
        }

        // the unigram model fitted to these very tokens: the best perplexity any unigram model can reach on them
        var frequency = encoded.SelectMany(x => x).CountBy(x => x).ToDictionary(p => p.Key, p => p.Value);
        double unigramNats = -encoded.SelectMany(x => x).Sum(t => Math.Log(frequency[t] / (double)count));

        double modelPerplexity = Math.Exp(modelNats / count);
        double unigramPerplexity = Math.Exp(unigramNats / count);
        output.WriteLine($"held-out perplexity {modelPerplexity:F1}, unigram {unigramPerplexity:F1}, over {verses.Length} verses, {count} tokens");
        Assert.True(modelPerplexity < unigramPerplexity / 3,
            $"held-out perplexity {modelPerplexity:F1} against the unigram's {unigramPerplexity:F1} over {count} tokens");
    }

    [Fact]
    public async Task Generate_GreedyFromPrompts_WritesCorpusWords()
    {
        using var model = DemoModel.Load();
        var words = File.ReadAllLines(Path.Combine(DataDir, "words.txt")).ToHashSet(StringComparer.Ordinal);
        string[] prompts = ["In the beginning", "And the LORD said unto Moses,", "Blessed are the", "The heavens declare"];
        int total = 0;
        var unknown = new List<string>();
        using var engine = new LlmEngine(model, new EngineOptions { MaxNumSeqs = 4, MaxModelLen = 256, Threads = 2 });
        foreach (var prompt in prompts)
        {
            string text = await GenerateAsync(engine, model.Tokenizer, prompt, 48);
            output.WriteLine($"{prompt} ->{text}");
            var found = Word().Matches(text.ToLowerInvariant()).Select(m => m.Value).ToList();
            Assert.True(found.Count >= 5, $"'{prompt}' -> '{text}'");
            total += found.Count;
            unknown.AddRange(found.Where(w => !words.Contains(w)));
        }
        output.WriteLine($"{total - unknown.Count} of {total} words are corpus words");
        Assert.True(unknown.Count <= total * 0.05, $"{unknown.Count} of {total} words are not in the corpus: {string.Join(", ", unknown)}");
    }

    private static async Task<string> GenerateAsync(LlmEngine engine, Tokenizer tok, string prompt, int tokens)
    {
        var sampling = new SamplingParams { MaxTokens = tokens, Temperature = 0, IgnoreEos = true };
        var handle = engine.Submit(new GenerationRequest { Id = prompt, PromptTokens = tok.Encode(prompt), Sampling = sampling });
        var text = new System.Text.StringBuilder();
        await foreach (var ev in handle.Events.ReadAllAsync())
        {
            text.Append(ev.Text);
        }
        return text.ToString();
    }

    /// <summary>Sums -log p(token | the tokens before it) over a sequence, one prefill with logits at every position.</summary>
    private sealed unsafe class Scorer : IDisposable
    {
        private const int BlockSize = 16;
        private const int MaxTokens = 256;
        private readonly WorkerPool _pool = new(2);
        private readonly Transformer _model;
        private readonly PagedKvCache _cache;
        private readonly ForwardBatch _batch = new(MaxTokens);
        private readonly int[] _table = [.. Enumerable.Range(0, MaxTokens / BlockSize)];
        private readonly float[] _logits; // (MaxTokens, vocab)
        private readonly int _vocab;

        public Scorer(LoadedModel loaded)
        {
            var c = loaded.Config;
            _model = new Transformer(loaded.Weights, _pool);
            _cache = new PagedKvCache(c.BlockCount, c.HeadCountKv, c.HeadDim, BlockSize, MaxTokens / BlockSize, KvCacheType.F16);
            _vocab = c.VocabSize;
            _logits = new float[MaxTokens * _vocab];
        }

        public double Nats(int[] ids)
        {
            int n = Math.Min(ids.Length, MaxTokens);
            int vocab = _vocab;
            _batch.Clear();
            for (int i = 0; i < n - 1; i++)
            {
                _batch.Add(ids[i], i, _table, wantLogits: true);
            }
            fixed (float* l = _logits)
            {
                _model.Forward(_batch, _cache, l);
            }
            double nats = 0;
            for (int i = 0; i < n - 1; i++)
            {
                var row = _logits.AsSpan(i * vocab, vocab);
                float max = System.Numerics.Tensors.TensorPrimitives.Max(row);
                double sum = 0;
                foreach (float v in row)
                {
                    sum += Math.Exp(v - max);
                }
                nats += max + Math.Log(sum) - row[ids[i + 1]];
            }
            return nats;
        }

        public void Dispose()
        {
            _model.Dispose();
            _cache.Dispose();
            _pool.Dispose();
        }
    }

    [GeneratedRegex(@"\p{L}+(?:'\p{L}+)?")]
    private static partial Regex Word();
}
