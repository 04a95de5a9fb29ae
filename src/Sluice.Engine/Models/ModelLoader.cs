using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Models;

/// <summary>Loads a model from a GGUF file; every problem surfaces as a <see cref="ModelFormatException"/> naming the path.</summary>
public static class ModelLoader
{
    public static LoadedModel Load(string path)
    {
        if (Directory.Exists(path))
        {
            throw new ModelFormatException(path, "is a folder; expected a GGUF file");
        }
        var file = GgufFile.Open(path);
        try
        {
            var config = ModelConfig.FromGguf(file);
            var weights = ModelWeights.Load(file, config);
            Tokenizer tokenizer;
            try
            {
                tokenizer = Tokenizer.FromGguf(file);
            }
            catch (Exception ex) when (ex is not ModelFormatException)
            {
                throw new ModelFormatException(path, "cannot build the tokenizer: " + ex.Message, ex);
            }
            if (tokenizer.VocabSize != config.VocabSize)
            {
                throw new ModelFormatException(path, $"tokenizer has {tokenizer.VocabSize} tokens but the embedding has {config.VocabSize} rows");
            }
            return new LoadedModel(path, "gguf", config, weights, tokenizer, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }
}
