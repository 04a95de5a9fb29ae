using Sluice.Engine.Models;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;

namespace Sluice.Server.Tests.Support;

/// <summary>A tiny synthesized model (written once per test run) so the server tests need nothing outside the repository.</summary>
public static class TestModels
{
    private static readonly Lazy<string> TinyPath = new(() => Write("tiny", 64, 2, 128));
    private static readonly Lazy<string> SlowPath = new(() => Write("slow", 384, 6, 1536));

    /// <summary>llama, 64 wide, 2 layers, byte-level vocabulary (~260 tokens), F16, context 1024; no chat template (ChatML is used).</summary>
    public static string TinyFile => TinyPath.Value;

    public static LoadedModel LoadTiny() => ModelLoader.Load(TinyPath.Value);

    public static string SlowFile => SlowPath.Value;

    /// <summary>
    /// The same vocabulary in a wider, deeper model (384 wide, 6 layers, F32): about a millisecond per token,
    /// for tests that need a request to still be running when they act (queue full, timeouts, drain).
    /// </summary>
    public static LoadedModel LoadSlow() => ModelLoader.Load(SlowPath.Value);

    private static string Write(string name, int width, int layers, int feedForward)
    {
        var dir = Path.Combine(Path.GetTempPath(), "sluice-server-test-models");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"{name}-{Environment.ProcessId}.gguf");
        var shape = ModelShape.Tiny with
        {
            Name = name,
            EmbeddingLength = width,
            BlockCount = layers,
            HeadCount = 4,
            HeadCountKv = 2,
            FeedForwardLength = feedForward,
            ContextLength = 1024,
            VocabSize = null,
            Tied = true,
        };
        ModelSynthesizer.Write(new SynthesisOptions(shape, name == "slow" ? WeightMix.F32 : WeightMix.F16, SynthVocabulary.Bytes()) { Seed = 7 }, path);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
        return path;
    }
}
