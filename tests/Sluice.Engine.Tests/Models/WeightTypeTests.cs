using Sluice.Engine.Caching;
using Sluice.Engine.Models;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Tests.Models;

/// <summary>
/// The same synthetic weights stored as F32, F16, BF16 and the quantized types give logits that track
/// the F32 ones (Pearson correlation over the vocabulary), closer the more bits the type keeps. Random
/// models magnify small errors (logit std 4), so this checks each type computes the same function, not
/// llama.cpp parity (the conformance tests do that).
/// </summary>
public sealed unsafe class WeightTypeTests
{
    [Theory]
    [InlineData("F16", 0.99999)]
    [InlineData("BF16", 0.9999)]
    [InlineData("Q8_0", 0.9995)]
    [InlineData("Q6_K", 0.998)]
    [InlineData("Q4_K", 0.98)]
    [InlineData("Q4_0", 0.98)]
    public void Forward_EachWeightType_LogitsTrackF32(string type, double minCorrelation)
    {
        var shape = ModelShape.Tiny with { Name = "wt", EmbeddingLength = 256, BlockCount = 2, HeadCount = 4, HeadCountKv = 2, FeedForwardLength = 512, VocabSize = null, Tied = false };
        var reference = Logits(shape, "F32");
        var other = Logits(shape, type);
        double ma = reference.Average(v => (double)v), mb = other.Average(v => (double)v);
        double cov = 0, va = 0, vb = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            cov += (reference[i] - ma) * (other[i] - mb);
            va += (reference[i] - ma) * (reference[i] - ma);
            vb += (other[i] - mb) * (other[i] - mb);
        }
        double r = cov / Math.Sqrt(va * vb);
        Assert.True(r >= minCorrelation, $"{type}: correlation with F32 logits {r:F6} < {minCorrelation}");
    }

    private static float[] Logits(ModelShape shape, string type)
    {
        Assert.True(WeightMix.TryParse(type, out var mix));
        var path = Path.Combine(Path.GetTempPath(), $"sluice-wt-{type}-{Environment.ProcessId}.gguf");
        try
        {
            ModelSynthesizer.Write(new SynthesisOptions(shape, mix, SynthVocabulary.Bytes()) { Seed = 3 }, path);
            using var m = ModelLoader.Load(path);
            using var pool = new WorkerPool(2);
            using var t = new Transformer(m.Weights, pool);
            using var cache = new PagedKvCache(m.Config.BlockCount, m.Config.HeadCountKv, m.Config.HeadDim, 16, 2, KvCacheType.F32);
            var batch = new ForwardBatch(32);
            int[] table = [0, 1];
            var prompt = m.Tokenizer.Encode("weights of every type", addSpecial: true);
            for (int i = 0; i < prompt.Length; i++)
            {
                batch.Add(prompt[i], i, table, i == prompt.Length - 1);
            }
            var logits = new float[m.Config.VocabSize];
            fixed (float* l = logits)
            {
                t.Forward(batch, cache, l);
            }
            return logits;
        }
        finally
        {
            File.Delete(path);
        }
    }
}
