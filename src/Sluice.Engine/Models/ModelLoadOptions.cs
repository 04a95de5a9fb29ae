using Sluice.Engine.Formats;
using Sluice.Engine.Models.Synthesis;

namespace Sluice.Engine.Models;

/// <summary>How <see cref="ModelLoader"/> loads a model. The defaults read the weights as stored into private memory.</summary>
public sealed record ModelLoadOptions
{
    public static ModelLoadOptions Default { get; } = new();

    /// <summary>
    /// Convert every matrix once at load, in memory, to this mix (llama-quantize's type choices, e.g.
    /// Q8_0, or Q4_0 with a Q6_K output), so that an F16/BF16 model runs at quantized speed. Null keeps
    /// the stored types.
    /// </summary>
    public WeightMix? Quantization { get; init; }

    /// <summary>
    /// How the files' bytes are held: a private copy by default, so the running model does not depend on
    /// the file staying as it was (<see cref="FileLoading.Copy"/>).
    /// </summary>
    public FileLoading Loading { get; init; } = FileLoading.Copy;

    /// <summary>Threads for load-time conversion; null uses all cores.</summary>
    public int? Threads { get; init; }
}
