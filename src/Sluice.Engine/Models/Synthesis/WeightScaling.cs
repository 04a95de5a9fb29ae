namespace Sluice.Engine.Models.Synthesis;

/// <summary>
/// How the random weights are scaled so activations stay well-behaved and the next-token distribution is
/// peaked without being degenerate. Matrices are N(0, 1/fan_in), so every projection keeps unit RMS after
/// the RMS norms; the output rows are N(0, (LogitStd² / n_embd)) times a per-row log-normal factor, so
/// logits have standard deviation about LogitStd and a few tokens stand out per position (the idea of the
/// conformance generator's --logit-std / --row-norm-spread / --resid-scale, with Sluice's own values).
/// </summary>
public sealed record WeightScaling
{
    public static WeightScaling Default { get; } = new();

    /// <summary>Standard deviation of the logits for a unit-RMS final hidden state.</summary>
    public float LogitStd { get; init; } = 4f;

    /// <summary>σ of the log-normal spread of output row norms (0: all rows alike).</summary>
    public float RowNormSpread { get; init; } = 0.5f;

    /// <summary>Extra gain on attn_output and ffn_down, the matrices that write into the residual stream.</summary>
    public float ResidualScale { get; init; } = 1f;

    /// <summary>
    /// The same gain for tied models. There the input embedding of token t is also its output row, so the
    /// residual stream's copy of it scores t by about LogitStd² / RMS(residual) and a shallow model would
    /// keep repeating its input; larger residual branches dilute that copy (the conformance models use 8).
    /// </summary>
    public float TiedResidualScale { get; init; } = 8f;

    /// <summary>Standard deviation of norm weights around 1.</summary>
    public float NormJitter { get; init; } = 0.05f;

    /// <summary>Standard deviation of the q/k/v biases (qwen2).</summary>
    public float BiasStd { get; init; } = 0.05f;

    public override string ToString() =>
        FormattableString.Invariant($"logit_std={LogitStd} row_norm_spread={RowNormSpread} resid_scale={ResidualScale} tied_resid_scale={TiedResidualScale}");
}
