using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Models.Synthesis;

/// <summary>Synthetic models must have the key set and tensor layout of the conformance models, which llama.cpp loads.</summary>
public sealed class ConformanceShapeTests
{
    [SkippableTheory]
    [InlineData("tiny-llama-f16.gguf", "ggml-vocab-llama-spm.gguf", ModelShape.Llama, 256, 512, false)]
    [InlineData("tiny-qwen2-f16.gguf", "ggml-vocab-qwen2.gguf", ModelShape.Qwen2, 64, 128, true)]
    public void Plan_ConformanceShape_HasItsKeysAndTensors(string model, string vocab, string arch, int width, int ffn, bool tied)
    {
        using var reference = GgufFile.Open(Conformance.Model(model));
        var shape = new ModelShape("conformance", arch, width, 2, 4, 2, ffn, 2048, null, tied, 10000f, 1e-5f);
        var plan = ModelSynthesizer.Plan(new SynthesisOptions(shape, WeightMix.F16, SynthVocabulary.FromGguf(Conformance.Tokenizer(vocab))));

        var ours = plan.Metadata.Select(kv => kv.Key).ToHashSet();
        var theirs = reference.Metadata.Keys.ToHashSet();
        Assert.Empty(theirs.Except(ours));
        Assert.Empty(ours.Except(theirs).Except([$"{arch}.vocab_size", "general.quantization_version"]));

        var tensors = plan.Tensors.ToDictionary(t => t.Name);
        Assert.Equal(reference.Tensors.Select(t => t.Name).Order(), tensors.Keys.Order());
        foreach (var t in reference.Tensors)
        {
            Assert.Equal(t.Dimensions, tensors[t.Name].Dimensions);
            Assert.Equal(t.Type, tensors[t.Name].Type);
        }
        Assert.Equal(reference.GetArray<string>("tokenizer.ggml.tokens")!.Length, plan.VocabSize);
    }
}
