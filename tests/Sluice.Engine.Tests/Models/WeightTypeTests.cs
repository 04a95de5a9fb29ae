using Sluice.Engine.Models;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Models;

/// <summary>
/// The same synthetic weights stored as F32, F16, BF16 and the quantized types give logits that track
/// the F32 ones (Pearson correlation over the vocabulary), closer the more bits the type keeps. Random
/// models magnify small errors (logit std 4), so this checks each type computes the same function, not
/// llama.cpp parity (the conformance tests do that).
/// </summary>
public sealed class WeightTypeTests
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
            return EngineTestKit.PromptLogits(m, "weights of every type");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
