using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Models.HuggingFace;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Models;

/// <summary>
/// Loads a model from a GGUF file or a Hugging Face folder (<see cref="LoadedModel.Format"/> says which
/// it found); every problem surfaces as a <see cref="ModelFormatException"/> naming the path.
/// </summary>
public static class ModelLoader
{
    public static LoadedModel Load(string path) => Load(path, ModelLoadOptions.Default);

    public static LoadedModel Load(string path, ModelLoadOptions options)
    {
        if (Directory.Exists(path))
        {
            return HfModelLoader.Load(path, options);
        }
        var file = GgufFile.Open(path, options.Loading);
        QuantizingTensorSource? converted = null;
        try
        {
            var config = ModelConfig.FromGguf(file);
            converted = options.Quantization is { } mix ? new QuantizingTensorSource(file, mix, config.BlockCount, options.Threads) : null;
            var weights = ModelWeights.Load(converted ?? (ITensorSource)file, config);
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
            if (converted != null)
            {
                file.Dispose(); // the weights now live in converted memory
            }
            return new LoadedModel(path, "gguf", config, weights, tokenizer, converted ?? (IDisposable)file);
        }
        catch
        {
            file.Dispose();
            converted?.Dispose();
            throw;
        }
    }
}
