using Sluice.Engine.Models;

namespace Sluice.Cli.Options;

/// <summary>Loads --model, or the built-in demo model when none is given (saying so on stderr).</summary>
internal static class ModelSource
{
    public static LoadedModel Load(string? path, TextWriter log)
    {
        if (string.IsNullOrEmpty(path))
        {
            log.WriteLine($"sluice: no --model given: using the built-in demo model '{DemoModel.Name}' (random weights: its output is NOT meaningful text)");
            return DemoModel.Load();
        }
        var model = ModelLoader.Load(path);
        log.WriteLine($"sluice: loaded {model.Format} model {model.Path}: {model.Config.Architecture}, {model.Config.BlockCount} layers, {model.Config.EmbeddingLength} wide, vocab {model.Config.VocabSize}");
        return model;
    }
}
