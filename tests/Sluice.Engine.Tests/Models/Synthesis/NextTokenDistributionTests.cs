using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Quantization;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Models.Synthesis;

/// <summary>
/// Runs the first position of a synthetic model (attention over one position is just V) in plain float math
/// and checks the weight scaling: the next-token distribution is peaked but not degenerate, and a tied
/// model does not just predict its input token back.
/// </summary>
public sealed class NextTokenDistributionTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FirstPosition_SyntheticModel_IsPeakedAndDoesNotEchoTheInput(bool tied)
    {
        var path = SynthTestModels.TempPath();
        try
        {
            var shape = SynthTestModels.Small(arch: tied ? ModelShape.Qwen2 : ModelShape.Llama, tied: tied) with { VocabSize = 4096 };
            ModelSynthesizer.Write(SynthTestModels.Options(shape, WeightMix.F32, seed: 11), path);
            using var file = GgufFile.Open(path);
            var model = new FirstPosition(file, shape);
            var topProbabilities = new List<double>();
            int echoes = 0;
            const int Samples = 60;
            for (int token = 0; token < Samples * 50; token += 50)
            {
                var logits = model.Logits(token);
                int best = Array.IndexOf(logits, logits.Max());
                echoes += best == token ? 1 : 0;
                double max = logits.Max();
                topProbabilities.Add(1 / logits.Sum(l => Math.Exp(l - max)));
            }
            topProbabilities.Sort();
            double median = topProbabilities[Samples / 2];
            Assert.InRange(median, 0.1, 0.97);
            Assert.True(echoes <= Samples / 20, $"{echoes} of {Samples} tokens predict themselves");
        }
        finally
        {
            SynthTestModels.Delete(path);
        }
    }

    private sealed class FirstPosition(GgufFile file, ModelShape shape)
    {
        public double[] Logits(int token)
        {
            int d = shape.EmbeddingLength;
            var x = Row("token_embd.weight", token);
            for (int layer = 0; layer < shape.BlockCount; layer++)
            {
                string p = $"blk.{layer}.";
                var h = Norm(x, Vector(p + "attn_norm.weight"));
                var v = MatVec(p + "attn_v.weight", h);
                if (shape.HasQkvBias)
                {
                    Add(v, Vector(p + "attn_v.bias"));
                }
                // One position: every query head's attention output is its KV head's value.
                var heads = new double[d];
                int group = shape.HeadCount / shape.HeadCountKv;
                for (int j = 0; j < shape.HeadCount; j++)
                {
                    Array.Copy(v, j / group * shape.HeadDim, heads, j * shape.HeadDim, shape.HeadDim);
                }
                Add(x, MatVec(p + "attn_output.weight", heads));
                var h2 = Norm(x, Vector(p + "ffn_norm.weight"));
                var gate = MatVec(p + "ffn_gate.weight", h2);
                var up = MatVec(p + "ffn_up.weight", h2);
                for (int i = 0; i < gate.Length; i++)
                {
                    gate[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i];
                }
                Add(x, MatVec(p + "ffn_down.weight", gate));
            }
            var final = Norm(x, Vector("output_norm.weight"));
            return MatVec(shape.Tied ? "token_embd.weight" : "output.weight", final);
        }

        private double[] Row(string name, long row)
        {
            var t = file.GetTensor(name);
            var values = new float[t.Columns];
            Quantizer.DequantizeRow(file, t, row, values);
            return Array.ConvertAll(values, v => (double)v);
        }

        private double[] Vector(string name) => Row(name, 0);

        private double[] MatVec(string name, double[] input)
        {
            var t = file.GetTensor(name);
            var result = new double[t.Rows];
            for (long r = 0; r < t.Rows; r++)
            {
                var w = Row(name, r);
                double s = 0;
                for (int i = 0; i < w.Length; i++)
                {
                    s += w[i] * input[i];
                }
                result[r] = s;
            }
            return result;
        }

        private double[] Norm(double[] x, double[] weight)
        {
            double ms = x.Average(v => v * v);
            double scale = 1 / Math.Sqrt(ms + shape.RmsNormEpsilon);
            return x.Select((v, i) => v * scale * weight[i]).ToArray();
        }

        private static void Add(double[] x, double[] y)
        {
            for (int i = 0; i < x.Length; i++)
            {
                x[i] += y[i];
            }
        }
    }
}
