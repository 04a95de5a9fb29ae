using Sluice.Engine.Numerics;

namespace Sluice.Engine.Models.Synthesis;

/// <summary>Fills one row of a tensor with its deterministic random values (see <see cref="WeightScaling"/>).</summary>
internal sealed class WeightInitializer(ulong seed, WeightScaling scaling, bool tied)
{
    public void FillRow(PlannedTensor tensor, long row, Span<float> values)
    {
        var rng = Xoshiro256.ForRow(seed, tensor.Name, row);
        switch (tensor.Role)
        {
            case TensorRole.AttentionNorm or TensorRole.FeedForwardNorm or TensorRole.OutputNorm:
                Fill(ref rng, values, 1f, scaling.NormJitter);
                break;
            case TensorRole.AttentionQBias or TensorRole.AttentionKBias or TensorRole.AttentionVBias:
                Fill(ref rng, values, 0f, scaling.BiasStd);
                break;
            case TensorRole.Output:
            case TensorRole.TokenEmbedding when tied:
                // The first draw sets this row's norm: a log-normal factor with mean square 1, so a few
                // tokens get clearly larger logits than the rest.
                float spread = scaling.RowNormSpread;
                float rowScale = MathF.Exp(spread * rng.NextGaussian() - spread * spread);
                Fill(ref rng, values, 0f, rowScale * scaling.LogitStd / MathF.Sqrt(tensor.Columns));
                break;
            case TensorRole.TokenEmbedding:
                Fill(ref rng, values, 0f, 1f);
                break;
            case TensorRole.AttentionOutput or TensorRole.FeedForwardDown:
                float gain = tied ? scaling.TiedResidualScale : scaling.ResidualScale;
                Fill(ref rng, values, 0f, gain / MathF.Sqrt(tensor.Columns));
                break;
            default:
                Fill(ref rng, values, 0f, 1f / MathF.Sqrt(tensor.Columns));
                break;
        }
    }

    private static void Fill(ref Xoshiro256 rng, Span<float> values, float mean, float std)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = mean + std * rng.NextGaussian();
        }
    }
}
