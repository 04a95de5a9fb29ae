using Sluice.Engine.Caching;
using Sluice.Engine.Formats.SafeTensors;
using Sluice.Engine.Models;
using Sluice.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Sluice.Engine.Tests.Models.HuggingFace;

/// <summary>
/// A Hugging Face folder written from each conformance GGUF gives llama.cpp's tokens and
/// log-probabilities, within the tolerances of <see cref="ConformanceTests"/>: F16/F32 folders as their
/// GGUFs do; quantized GGUFs written as F32 (their dequantized values, exactly) multiply float
/// activations, so the float-activation budget applies (median 0.25, max 1.5, greedy margin 1.0).
/// </summary>
[Collection(HfFolderCollection.Name)]
public sealed class HfConformanceTests(HfFolders folders, ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData("tiny-llama3-f32", SafeTensorsDType.F32, KvCacheType.F32, true, 1e-3, 1e-3, 0.1)]
    [InlineData("tiny-llama3-f32", SafeTensorsDType.F32, KvCacheType.F16, false, 0.1, 0.1, 0.1)]
    [InlineData("tiny-llama-f16", SafeTensorsDType.F16, KvCacheType.F16, false, 0.1, 0.1, 0.1)]
    [InlineData("tiny-llama-f16", SafeTensorsDType.F16, KvCacheType.F32, true, 0.1, 0.1, 0.1)]
    [InlineData("tiny-qwen2-f16", SafeTensorsDType.F16, KvCacheType.F16, false, 0.1, 0.1, 0.1)]
    [InlineData("tiny-qwen2-f16", SafeTensorsDType.F16, KvCacheType.F32, true, 0.1, 0.1, 0.1)]
    [InlineData("tiny-llama-q8_0", SafeTensorsDType.F32, KvCacheType.F32, true, 0.25, 1.5, 1.0)]
    [InlineData("tiny-llama-q4_0", SafeTensorsDType.F32, KvCacheType.F32, true, 0.25, 1.5, 1.0)]
    [InlineData("tiny-llama-q4_k_m", SafeTensorsDType.F32, KvCacheType.F32, true, 0.25, 1.5, 1.0)]
    [InlineData("tiny-qwen2-q8_0", SafeTensorsDType.F32, KvCacheType.F32, true, 0.25, 1.5, 1.0)]
    public void TeacherForced_FolderFromGguf_MatchesLlamaCpp(string model, SafeTensorsDType dtype, KvCacheType kv, bool f32KvGolden, double medianTol, double maxTol, double greedyMargin)
    {
        string folder = folders.FromConformance(model, dtype);
        using var loaded = ModelLoader.Load(folder);
        Assert.Equal("hf", loaded.Format);
        var stats = TeacherForcing.Run(loaded.Weights, Conformance.Golden(model + ".jsonl", f32KvGolden), kv, greedyMargin);
        output.WriteLine($"{model} as {dtype} folder, kv={kv} vs {(f32KvGolden ? "golden_f32kv" : "golden")}: {stats}");
        Assert.True(stats.Positions == 352, $"expected 352 positions, got {stats.Positions}");
        Assert.True(stats.Median <= medianTol, $"median |dlogprob| {stats.Median:G4} > {medianTol}: {stats}");
        Assert.True(stats.Max <= maxTol, $"max |dlogprob| {stats.Max:G4} > {maxTol}: {stats}");
        Assert.True(stats.GreedyMismatches.Count == 0, string.Join("\n", stats.GreedyMismatches));
    }

    [SkippableTheory]
    [InlineData("tiny-llama-f16")]
    [InlineData("tiny-qwen2-f16")]
    [InlineData("tiny-llama3-f32")]
    public void GoldenPrompts_FolderTokenizer_TokenizeAsLlamaServerDid(string model)
    {
        string folder = folders.FromConformance(model, model.EndsWith("f32", StringComparison.Ordinal) ? SafeTensorsDType.F32 : SafeTensorsDType.F16);
        using var loaded = ModelLoader.Load(folder);
        foreach (var record in GoldenRecord.Load(Conformance.Golden(model + ".jsonl")))
        {
            var tokens = loaded.Tokenizer.Encode(record.Prompt, addSpecial: true);
            Assert.True(tokens.SequenceEqual(record.PromptTokens), $"{record.PromptId}: expected {string.Join(' ', record.PromptTokens)}, got {string.Join(' ', tokens)}");
            for (int g = 0; g < record.GeneratedTokens.Length; g++)
            {
                Assert.Equal(record.Positions[g].PieceBytes, loaded.Tokenizer.TokenBytes(record.GeneratedTokens[g]));
            }
        }
    }
}
