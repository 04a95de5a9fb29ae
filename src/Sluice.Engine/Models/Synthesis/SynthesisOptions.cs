using Sluice.Engine.Models.Synthesis.Vocabulary;

namespace Sluice.Engine.Models.Synthesis;

/// <summary>What to synthesize. The vocabulary is padded to <see cref="ModelShape.VocabSize"/> when that is larger.</summary>
public sealed record SynthesisOptions(ModelShape Shape, WeightMix Mix, SynthVocabulary Vocabulary)
{
    public ulong Seed { get; init; }

    public WeightScaling Scaling { get; init; } = WeightScaling.Default;

    /// <summary>general.name; defaults to "sluice-synth-" + the shape name.</summary>
    public string? Name { get; init; }

    /// <summary>Threads that generate and quantize rows; null uses all cores.</summary>
    public int? MaxDegreeOfParallelism { get; init; }
}
