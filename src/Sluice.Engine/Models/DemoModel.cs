using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;

namespace Sluice.Engine.Models;

/// <summary>
/// The built-in demo model: the `tiny` shape (llama, 256 wide, 2 layers) in Q8_0 with deterministic
/// random weights and the cl100k_base tokenizer from a NuGet data package, so `sluice serve` runs
/// with nothing downloaded. Its output is not meaningful text. Written once to a cache folder.
/// </summary>
public static class DemoModel
{
    public const string Name = "sluice-demo";
    private const string FileName = "sluice-demo-tiny-q8_0-v1.gguf";

    /// <summary>The cache folder: $SLUICE_CACHE, else $XDG_CACHE_HOME/sluice, else ~/.cache/sluice.</summary>
    public static string CacheDirectory
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("SLUICE_CACHE");
            if (!string.IsNullOrEmpty(env))
            {
                return env;
            }
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var root = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "sluice");
        }
    }

    /// <summary>Path of the demo model file, synthesizing it first if it is not cached yet.</summary>
    public static string EnsureFile()
    {
        var dir = CacheDirectory;
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path))
        {
            var options = new SynthesisOptions(ModelShape.Tiny with { Tied = true }, WeightMix.Q8_0, SynthVocabulary.Cl100k())
            {
                Seed = 0,
                Name = Name,
            };
            ModelSynthesizer.Write(options, path);
        }
        return path;
    }

    public static LoadedModel Load()
    {
        var m = ModelLoader.Load(EnsureFile());
        return new LoadedModel(m.Path, "demo", m.Config, m.Weights, m.Tokenizer, m);
    }
}
