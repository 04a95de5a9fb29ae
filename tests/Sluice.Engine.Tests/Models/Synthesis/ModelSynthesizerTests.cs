using System.Security.Cryptography;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Quantization;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Models.Synthesis;

public sealed class ModelSynthesizerTests
{
    [Fact]
    public void Write_SameSeed_GivesIdenticalBytesAndAnotherSeedDoesNot()
    {
        string a = SynthTestModels.TempPath(), b = SynthTestModels.TempPath(), c = SynthTestModels.TempPath();
        try
        {
            var options = SynthTestModels.Options(SynthTestModels.Small(), WeightMix.Q4_K_M, seed: 42);
            ModelSynthesizer.Write(options, a);
            ModelSynthesizer.Write(options with { MaxDegreeOfParallelism = 1 }, b);
            ModelSynthesizer.Write(options with { Seed = 43 }, c);
            Assert.Equal(Hash(a), Hash(b));
            Assert.NotEqual(Hash(a), Hash(c));
            Assert.Equal(new FileInfo(a).Length, new FileInfo(c).Length);
        }
        finally
        {
            SynthTestModels.Delete(a);
            SynthTestModels.Delete(b);
            SynthTestModels.Delete(c);
        }
    }

    public static TheoryData<string> MixNames => [.. WeightMix.All.Select(m => m.Name)];

    [Theory]
    [MemberData(nameof(MixNames))]
    public void Write_SmallModelOfEachType_OpensWithTheDeclaredTensorTypes(string mixName)
    {
        Assert.True(WeightMix.TryParse(mixName, out var mix));
        var path = SynthTestModels.TempPath();
        try
        {
            var result = ModelSynthesizer.Write(SynthTestModels.Options(SynthTestModels.Small(arch: ModelShape.Qwen2, tied: true), mix), path);
            using var file = GgufFile.Open(path);
            Assert.Equal(result.FileBytes, file.FileSize);
            Assert.Equal(mix.FileType, file.GetInt("general.file_type"));
            Assert.Equal(result.Plan.Tensors.Select(t => t.Name), file.Tensors.Select(t => t.Name));
            foreach (var planned in result.Plan.Tensors)
            {
                var t = file.GetTensor(planned.Name);
                Assert.Equal(planned.Type, t.Type);
                Assert.Equal(planned.Dimensions, t.Dimensions);
                if (t.Dimensions.Length == 1)
                {
                    Assert.Equal(GgmlType.F32, t.Type);
                }
                var row = new float[t.Columns];
                Quantizer.DequantizeRow(file, t, t.Rows - 1, row);
                Assert.All(row, v => Assert.True(float.IsFinite(v)));
                Assert.Contains(row, v => v != 0);
            }
        }
        finally
        {
            SynthTestModels.Delete(path);
        }
    }

    [Fact]
    public void Write_Weights_FollowTheDocumentedScales()
    {
        var path = SynthTestModels.TempPath();
        try
        {
            ModelSynthesizer.Write(SynthTestModels.Options(SynthTestModels.Small(), WeightMix.F32), path);
            using var file = GgufFile.Open(path);
            Assert.InRange(Rms(file, "blk.0.attn_q.weight"), 0.9 / Math.Sqrt(256), 1.1 / Math.Sqrt(256));
            Assert.InRange(Rms(file, "blk.0.ffn_down.weight"), 0.9 / Math.Sqrt(512), 1.1 / Math.Sqrt(512));
            Assert.InRange(Mean(file, "blk.1.ffn_norm.weight"), 0.98, 1.02);
            Assert.InRange(Rms(file, "token_embd.weight"), 0.9, 1.1);
        }
        finally
        {
            SynthTestModels.Delete(path);
        }
    }

    [Fact]
    public void Write_OutputScale_GivesPeakedButNotDegenerateNextTokenDistributions()
    {
        // Logits of unit-RMS hidden states against a 32000-row output matrix, as the final layer sees them.
        var shape = SynthTestModels.Small() with { VocabSize = 32000 };
        var plan = ModelSynthesizer.Plan(SynthTestModels.Options(shape, WeightMix.F32));
        var output = plan.Tensor("output.weight");
        var init = new WeightInitializer(1, WeightScaling.Default, tied: false);
        var weights = new float[output.Rows][];
        for (int r = 0; r < output.Rows; r++)
        {
            weights[r] = new float[output.Columns];
            init.FillRow(output, r, weights[r]);
        }
        var rng = new Random(3);
        var topProbabilities = new List<double>();
        for (int sample = 0; sample < 40; sample++)
        {
            var h = Quantization.RoundTripErrorTests.Gaussian(rng, (int)output.Columns, 1);
            var logits = weights.Select(w => Dot(w, h)).ToArray();
            double max = logits.Max();
            double sum = logits.Sum(l => Math.Exp(l - max));
            topProbabilities.Add(1 / sum);
        }
        topProbabilities.Sort();
        double median = topProbabilities[topProbabilities.Count / 2];
        Assert.InRange(median, 0.15, 0.97);
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static double Dot(float[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            s += a[i] * (double)b[i];
        }
        return s;
    }

    private static float[] Values(GgufFile file, string name)
    {
        var t = file.GetTensor(name);
        var values = new float[t.ElementCount];
        Quantizer.Dequantize(t.Type, file.TensorBytes(t), values);
        return values;
    }

    private static double Rms(GgufFile file, string name) => Math.Sqrt(Values(file, name).Average(v => (double)v * v));

    private static double Mean(GgufFile file, string name) => Values(file, name).Average(v => (double)v);
}
