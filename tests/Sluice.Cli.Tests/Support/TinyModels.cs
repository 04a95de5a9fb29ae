using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;

namespace Sluice.Cli.Tests.Support;

/// <summary>A small synthetic GGUF model (2 layers, 4 heads of 32, 2 KV heads, context 512), written once per test process.</summary>
internal static class TinyModels
{
    private static readonly Lock Gate = new();

    public static string HeadDim32()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sluice-cli-tiny32-{Environment.ProcessId}.gguf");
        lock (Gate)
        {
            if (!File.Exists(path))
            {
                var shape = ModelShape.Tiny with { Name = "tiny32", EmbeddingLength = 128, BlockCount = 2, HeadCount = 4, HeadCountKv = 2, FeedForwardLength = 128, ContextLength = 512, VocabSize = null, Tied = true };
                ModelSynthesizer.Write(new SynthesisOptions(shape, WeightMix.F16, SynthVocabulary.Bytes()) { Seed = 7 }, path);
                AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
            }
        }
        return path;
    }
}
