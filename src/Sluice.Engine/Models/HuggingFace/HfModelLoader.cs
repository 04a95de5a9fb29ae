using Sluice.Engine.Formats;
using Sluice.Engine.Formats.SafeTensors;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Models.HuggingFace;

/// <summary>
/// Loads a Hugging Face model folder as it is: config.json, the safetensors checkpoint (mapped, not
/// copied, unless quantized at load), tokenizer.json with tokenizer_config.json, and
/// generation_config.json when present.
/// </summary>
public static class HfModelLoader
{
    /// <summary>True when the folder looks like a Hugging Face model (it has a config.json).</summary>
    public static bool IsModelFolder(string folder) => File.Exists(Path.Combine(folder, HfConfig.FileName));

    public static LoadedModel Load(string folder, ModelLoadOptions options)
    {
        if (!IsModelFolder(folder))
        {
            throw new ModelFormatException(folder, $"folder has no {HfConfig.FileName}: not a Hugging Face model folder");
        }
        var config = HfConfigReader.Read(Path.Combine(folder, HfConfig.FileName));
        var generation = GenerationDefaults.Read(folder);
        var owned = new OwnedResources();
        try
        {
            var checkpoint = owned.Add(SafeTensorsCheckpoint.Open(folder, options.Loading));
            var source = owned.Add(new HfTensorSource(checkpoint, config));
            ModelWeights weights;
            if (options.Quantization is { } mix)
            {
                var converted = new QuantizingTensorSource(source, mix, config.Model.BlockCount, options.Threads);
                weights = ModelWeights.Load(converted, config.Model);
                // Every matrix now lives in converted memory and vectors were decoded, so the mappings can go.
                owned.Dispose();
                owned = new OwnedResources();
                owned.Add(converted);
            }
            else
            {
                weights = ModelWeights.Load(source, config.Model);
            }
            var tokenizer = LoadTokenizer(folder, config, generation);
            if (tokenizer.VocabSize != config.Model.VocabSize)
            {
                throw new ModelFormatException(folder, $"tokenizer has {tokenizer.VocabSize} tokens but config.json's vocab_size is {config.Model.VocabSize}");
            }
            return new LoadedModel(folder, "hf", config.Model, weights, tokenizer, owned) { Generation = generation };
        }
        catch
        {
            owned.Dispose();
            throw;
        }
    }

    private static Tokenizer LoadTokenizer(string folder, HfConfig config, GenerationDefaults? generation)
    {
        var options = new HfTokenizerOptions
        {
            VocabSize = config.Model.VocabSize,
            ModelName = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))),
            FallbackBosId = config.BosTokenId ?? generation?.BosTokenId,
            FallbackEosIds = config.EosTokenIds.Count > 0 ? config.EosTokenIds : generation?.EosTokenIds ?? [],
            ExtraEndOfGenerationIds = generation?.EosTokenIds ?? [],
        };
        try
        {
            return Tokenizer.FromHuggingFace(folder, options);
        }
        catch (Exception ex) when (ex is not ModelFormatException)
        {
            throw new ModelFormatException(Path.Combine(folder, HfTokenizerJsonReader.FileName), "cannot build the tokenizer: " + ex.Message, ex);
        }
    }

    /// <summary>What a loaded folder keeps open, disposed together (in reverse order).</summary>
    private sealed class OwnedResources : IDisposable
    {
        private readonly List<IDisposable> _items = [];

        public T Add<T>(T item) where T : IDisposable
        {
            _items.Add(item);
            return item;
        }

        public void Dispose()
        {
            for (int i = _items.Count - 1; i >= 0; i--)
            {
                _items[i].Dispose();
            }
            _items.Clear();
        }
    }
}
