using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Formats.SafeTensors;
using Sluice.Engine.Models.HuggingFace.Conversion;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Tests.Support;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Tests.Models.HuggingFace.Conversion;

/// <summary>GGUF → Hugging Face folder → GGUF gives back the same tensors (q/k permutation restored) and tokenizer.</summary>
[Collection(HfFolderCollection.Name)]
public sealed unsafe class GgufRoundTripTests(HfFolders folders)
{
    [SkippableTheory]
    [InlineData("tiny-llama-f16", SafeTensorsDType.F16, "F16", TestTokenizers.LlamaSpm)]
    [InlineData("tiny-qwen2-f16", SafeTensorsDType.F16, "F16", TestTokenizers.Qwen2)]
    [InlineData("tiny-llama3-f32", SafeTensorsDType.F32, "F32", TestTokenizers.LlamaBpe)]
    public void Convert_FolderWrittenFromGguf_GivesBackTheSameTensorsAndTokenizer(string model, SafeTensorsDType dtype, string mixName, string vocabFile)
    {
        string folder = folders.FromConformance(model, dtype);
        string output = Path.Combine(folders.NewFolder("roundtrip"), model + ".gguf");
        Assert.True(WeightMix.TryParse(mixName, out var mix));
        GgufConverter.Convert(folder, output, mix, maxDegreeOfParallelism: 2);
        using var original = GgufFile.Open(Conformance.Model(model + ".gguf"));
        using var converted = GgufFile.Open(output);
        Assert.Equal(original.Tensors.Select(t => t.Name).Order(), converted.Tensors.Select(t => t.Name).Order());
        foreach (var t in original.Tensors)
        {
            var c = converted.GetTensor(t.Name);
            Assert.Equal(t.Type, c.Type);
            Assert.Equal(t.Dimensions, c.Dimensions);
            Assert.True(original.TensorBytes(t).SequenceEqual(converted.TensorBytes(c)), $"{t.Name} differs");
        }
        var a = Tokenizer.FromGguf(original);
        var b = Tokenizer.FromGguf(converted);
        for (int id = 0; id < a.VocabSize; id++)
        {
            Assert.True(a.TokenText(id) == b.TokenText(id) && a.TokenType(id) == b.TokenType(id), $"token {id}");
        }
        Assert.Equal((a.BosId, a.EosId, a.AddBos), (b.BosId, b.EosId, b.AddBos));
        foreach (var (text, ids) in TestTokenizers.TestCases(vocabFile))
        {
            Assert.Equal(ids, b.Encode(text, addSpecial: false));
        }
    }
}
