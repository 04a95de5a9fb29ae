using Sluice.Engine.Models;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;

namespace Sluice.Engine.Tests.Support;

/// <summary>Small synthesized models shared by the engine tests (written once per test run).</summary>
public static class TestModels
{
    private static readonly Lazy<string> TinyPath = new(() => Write("tiny-bytes-f16", WeightMix.F16));

    /// <summary>llama, 64 wide, 2 layers, 4 heads / 2 KV heads, byte-level vocabulary (~260 tokens), F16.</summary>
    public static LoadedModel LoadTiny() => ModelLoader.Load(TinyPath.Value);

    /// <summary>The tiny model's shape (llama, 64 wide, 2 layers, 4 heads / 2 KV heads, tied embedding, context 1024), for tests that synthesize variants.</summary>
    public static ModelShape TinyShape { get; } = ModelShape.Tiny with
    {
        EmbeddingLength = 64,
        BlockCount = 2,
        HeadCount = 4,
        HeadCountKv = 2,
        FeedForwardLength = 128,
        ContextLength = 1024,
        VocabSize = null,
        Tied = true,
    };

    private static string Write(string name, WeightMix mix)
    {
        var dir = Path.Combine(Path.GetTempPath(), "sluice-test-models");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"{name}-{Environment.ProcessId}.gguf");
        ModelSynthesizer.Write(new SynthesisOptions(TinyShape with { Name = name }, mix, SynthVocabulary.Bytes()) { Seed = 7 }, path);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
        return path;
    }
}
