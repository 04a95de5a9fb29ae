using Sluice.Engine.Models.HuggingFace;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Models;

/// <summary>Everything loaded from one model file or folder: configuration, weights, tokenizer.</summary>
public sealed class LoadedModel : IDisposable
{
    private readonly IDisposable? _owner;

    public LoadedModel(string path, string format, ModelConfig config, ModelWeights weights, Tokenizer tokenizer, IDisposable? owner)
    {
        Path = path;
        Format = format;
        Config = config;
        Weights = weights;
        Tokenizer = tokenizer;
        _owner = owner;
    }

    /// <summary>The file or folder it came from.</summary>
    public string Path { get; }

    /// <summary>"gguf", "hf" (Hugging Face folder), or "demo".</summary>
    public string Format { get; }

    public ModelConfig Config { get; }
    public ModelWeights Weights { get; }
    public Tokenizer Tokenizer { get; }

    /// <summary>generation_config.json of a Hugging Face folder (EOS ids, sampling defaults); null otherwise.</summary>
    public GenerationDefaults? Generation { get; init; }

    /// <summary>What the model is, for the start-up log and /v1/models (the demo model says what it was trained on); null for most.</summary>
    public string? Description { get; init; }

    /// <summary>The model's name as served: the file name without extension, or the folder name.</summary>
    public string Name => Format == "demo" ? DemoModel.Name : System.IO.Path.GetFileNameWithoutExtension(Path.TrimEnd('/', '\\'));

    /// <summary>
    /// Bytes of weights one decode step reads: every layer matrix and the output matrix (the token
    /// embedding itself when tied); the embedding lookup reads one row, which is negligible.
    /// </summary>
    public long WeightBytes
    {
        get
        {
            long bytes = Weights.Output.ByteSize;
            foreach (var l in Weights.Layers)
            {
                bytes += l.Q.ByteSize + l.K.ByteSize + l.V.ByteSize + l.O.ByteSize + l.Gate.ByteSize + l.Up.ByteSize + l.Down.ByteSize;
            }
            return bytes;
        }
    }

    /// <summary>The packed-weights cache file the matrices read from, when one was applied (<see cref="PackedWeightsCache"/>); disposed with the model.</summary>
    public PackedWeightsCache? PackedCache { get; internal set; }

    public void Dispose()
    {
        _owner?.Dispose();
        PackedCache?.Dispose();
    }
}
