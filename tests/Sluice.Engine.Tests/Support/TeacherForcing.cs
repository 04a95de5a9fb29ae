using Sluice.Engine.Caching;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Models;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Tests.Support;

/// <summary>
/// Feeds a golden record's prompt as one batch and then each golden token alone (as llama-server
/// did), collecting the log-softmax over the whole vocabulary at every generated position, and
/// compares it with the golden top-10 log-probabilities and greedy tokens.
/// </summary>
public static unsafe class TeacherForcing
{
    public sealed class Stats
    {
        public List<double> Deltas { get; } = [];
        public List<string> GreedyMismatches { get; } = [];
        public int Positions { get; set; }
        public double Max => Deltas.Count == 0 ? 0 : Deltas.Max();
        public double Median => Deltas.Count == 0 ? 0 : Deltas.Order().ElementAt(Deltas.Count / 2);
        public double Share(double within) => Deltas.Count(d => d <= within) / (double)Math.Max(1, Deltas.Count);

        public override string ToString() =>
            $"values={Deltas.Count} median={Median:G3} p99={Deltas.Order().ElementAt((int)(Deltas.Count * 0.99)):G3} max={Max:G3} greedyMismatches={GreedyMismatches.Count}/{Positions}";
    }

    public static Stats Run(string modelPath, string goldenPath, KvCacheType kvType, double greedyMargin, int threads = 2)
    {
        using var file = GgufFile.Open(modelPath);
        return Run(ModelWeights.Load(file, ModelConfig.FromGguf(file)), goldenPath, kvType, greedyMargin, threads);
    }

    /// <summary>As above for weights loaded from any source; <paramref name="prompts"/> limits the records run (null: all).</summary>
    public static Stats Run(ModelWeights weights, string goldenPath, KvCacheType kvType, double greedyMargin, int threads = 2, int? prompts = null)
    {
        var config = weights.Config;
        using var pool = new WorkerPool(threads);
        using var model = new Transformer(weights, pool);
        const int BlockSize = 16;
        int blocks = 600 / BlockSize + 1;
        using var cache = new PagedKvCache(config.BlockCount, config.HeadCountKv, config.HeadDim, BlockSize, blocks, kvType);
        var table = Enumerable.Range(0, blocks).ToArray();
        var stats = new Stats();
        var logits = new float[config.VocabSize];
        var batch = new ForwardBatch(1024);
        foreach (var rec in GoldenRecord.Load(goldenPath).Take(prompts ?? int.MaxValue))
        {
            int pos = 0;
            batch.Clear();
            for (int i = 0; i < rec.PromptTokens.Length; i++)
            {
                batch.Add(rec.PromptTokens[i], pos++, table, i == rec.PromptTokens.Length - 1);
            }
            for (int g = 0; g < rec.Positions.Length; g++)
            {
                fixed (float* l = logits)
                {
                    model.Forward(batch, cache, l);
                }
                Compare(rec, g, logits, stats, greedyMargin);
                batch.Clear();
                batch.Add(rec.GeneratedTokens[g], pos++, table, true);
            }
        }
        return stats;
    }

    private static void Compare(GoldenRecord rec, int g, float[] logits, Stats stats, double greedyMargin)
    {
        // log-softmax over the whole vocabulary in double for a faithful reference of our logits
        double max = logits.Max();
        double sum = 0;
        foreach (var v in logits)
        {
            sum += Math.Exp(v - max);
        }
        double lse = max + Math.Log(sum);
        var gp = rec.Positions[g];
        foreach (var (id, lp) in gp.TopLogProbs)
        {
            if (lp < -15)
            {
                continue;
            }
            stats.Deltas.Add(Math.Abs(logits[id] - lse - lp));
        }
        stats.Positions++;
        int argmax = Array.IndexOf(logits, logits.Max());
        if (gp.Margin > greedyMargin && argmax != gp.Token)
        {
            stats.GreedyMismatches.Add($"{rec.PromptId}[{g}]: engine {argmax}, golden {gp.Token} (margin {gp.Margin:F3})");
        }
    }
}
