using Sluice.Engine.Models.Synthesis;

namespace Sluice.Engine.Models;

/// <summary>How <see cref="ModelLoader"/> loads a model. The defaults map the weights as stored.</summary>
public sealed record ModelLoadOptions
{
    public static ModelLoadOptions Default { get; } = new();

    /// <summary>
    /// Convert every matrix once at load, in memory, to this mix (llama-quantize's type choices, e.g.
    /// Q8_0, or Q4_0 with a Q6_K output), so that an F16/BF16 model runs at quantized speed. Null keeps
    /// the stored types and copies nothing.
    /// </summary>
    public WeightMix? Quantization { get; init; }

    /// <summary>Threads for load-time conversion; null uses all cores.</summary>
    public int? Threads { get; init; }
}
