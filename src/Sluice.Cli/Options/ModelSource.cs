using Sluice.Engine.Models;

namespace Sluice.Cli.Options;

/// <summary>Loads --model, or the built-in demo model when none is given (saying so on stderr).</summary>
internal static class ModelSource
{
    public static LoadedModel Load(string? path, TextWriter log, ModelLoadOptions? options = null)
    {
        if (path is not null && string.IsNullOrWhiteSpace(path))
        {
            throw new ArgumentException("--model is empty: name a GGUF file or a model folder, or leave --model out for the demo model");
        }
        if (path is null && options?.Quantization is not null)
        {
            throw new ArgumentException("--quantization converts a model's F16/BF16/F32 weights at load: it needs --model");
        }
        if (path is null)
        {
            log.WriteLine($"sluice: no --model given: using '{DemoModel.Name}', {DemoModel.Description}");
            return DemoModel.Load();
        }
        var model = ModelLoader.Load(Resolve(path), options ?? ModelLoadOptions.Default);
        log.WriteLine($"sluice: loaded {model.Format} model {model.Path}: {model.Config.Architecture}, {model.Config.BlockCount} layers, {model.Config.EmbeddingLength} wide, vocab {model.Config.VocabSize}");
        return model;
    }

    /// <summary>
    /// A folder with no config.json and exactly one .gguf file stands for that file: KServe's storage initializer
    /// downloads a storageUri of one GGUF file into /mnt/models under the file's own name. Anything else is unchanged.
    /// </summary>
    public static string Resolve(string path)
    {
        if (Directory.Exists(path) && !File.Exists(Path.Combine(path, "config.json")))
        {
            var ggufs = Directory.GetFiles(path, "*.gguf");
            if (ggufs.Length == 1)
            {
                return ggufs[0];
            }
        }
        return path;
    }
}
