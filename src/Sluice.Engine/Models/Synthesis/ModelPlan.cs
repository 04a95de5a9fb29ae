using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Models.Synthesis.Vocabulary;

namespace Sluice.Engine.Models.Synthesis;

/// <summary>Everything a synthetic model file will contain except the weight values: a dry run.</summary>
public sealed record ModelPlan(
    ModelShape Shape,
    WeightMix Mix,
    SynthVocabulary Vocabulary,
    IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata,
    IReadOnlyList<PlannedTensor> Tensors)
{
    public int VocabSize => Vocabulary.Size;

    public long TensorBytes => Tensors.Sum(t => t.ByteSize);

    public long ParameterCount => Tensors.Sum(t => t.ElementCount);

    /// <summary>"Q4_K x12, Q6_K x3, F32 x5": types by total bytes.</summary>
    public string TypeSummary => string.Join(", ", Tensors.GroupBy(t => t.Type).OrderByDescending(g => g.Sum(t => t.ByteSize))
        .Select(g => $"{Quantization.GgmlTypeInfo.Name(g.Key)} x{g.Count()}"));

    public PlannedTensor Tensor(string name) => Tensors.First(t => t.Name == name);
}
