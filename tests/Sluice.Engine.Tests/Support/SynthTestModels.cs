using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;

namespace Sluice.Engine.Tests.Support;

/// <summary>Small shapes and temporary paths for the synthesis tests (models go to the temp folder).</summary>
internal static class SynthTestModels
{
    /// <summary>256 wide so every type, K-quants included, applies without fallbacks.</summary>
    public static ModelShape Small(int layers = 2, string arch = ModelShape.Llama, bool tied = false) =>
        new("test", arch, 256, layers, 4, 2, 512, 512, null, tied, 10000f, 1e-5f);

    public static SynthesisOptions Options(ModelShape shape, WeightMix mix, ulong seed = 1) =>
        new(shape, mix, SynthVocabulary.Bytes()) { Seed = seed };

    public static string TempPath() => Path.Combine(Path.GetTempPath(), $"sluice-synth-{Guid.NewGuid():N}.gguf");

    public static void Delete(string path)
    {
        if (File.Exists(path))
        {
            File.Delete(path);
        }
    }
}
