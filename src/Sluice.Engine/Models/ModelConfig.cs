using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Kernels;

namespace Sluice.Engine.Models;

/// <summary>Hyperparameters of a decoder-only transformer, read from a model file.</summary>
public sealed record ModelConfig
{
    public required string Architecture { get; init; }
    public required int EmbeddingLength { get; init; }
    public required int BlockCount { get; init; }
    public required int FeedForwardLength { get; init; }
    public required int HeadCount { get; init; }
    public required int HeadCountKv { get; init; }
    public required int HeadDim { get; init; }
    public required int ContextLength { get; init; }
    public required int VocabSize { get; init; }
    public required float RopeFreqBase { get; init; }
    public required float RmsNormEps { get; init; }
    public required RopeLayout RopeLayout { get; init; }

    /// <summary>Linear RoPE scaling factor (positions divided by it); 1 when none.</summary>
    public float RopeScale { get; init; } = 1f;

    /// <summary>q/k/v projections carry biases (qwen2).</summary>
    public bool HasQkvBias { get; init; }

    /// <summary>RMSNorm on each query and key head before RoPE (qwen3).</summary>
    public bool HasQkNorm { get; init; }

    public static readonly IReadOnlySet<string> SupportedArchitectures = new HashSet<string> { "llama", "qwen2", "qwen3" };

    /// <summary>Reads a Hugging Face config.json (see <see cref="HuggingFace.HfConfigReader"/>).</summary>
    public static ModelConfig FromHuggingFace(string configJsonPath) => HuggingFace.HfConfigReader.Read(configJsonPath).Model;

    public static ModelConfig FromGguf(GgufFile f)
    {
        string arch = f.GetString("general.architecture") ?? throw new ModelFormatException(f.FilePath, "missing metadata 'general.architecture'");
        if (!SupportedArchitectures.Contains(arch))
        {
            throw new ModelFormatException(f.FilePath, $"unknown architecture '{arch}' (supported: {string.Join(", ", SupportedArchitectures)})");
        }
        int Req(string key)
        {
            long v = f.GetInt($"{arch}.{key}") ?? throw new ModelFormatException(f.FilePath, $"missing metadata '{arch}.{key}'");
            if (v <= 0 || v > int.MaxValue)
            {
                throw new ModelFormatException(f.FilePath, $"metadata '{arch}.{key}' = {v} is out of range");
            }
            return (int)v;
        }
        int nEmbd = Req("embedding_length");
        int nHead = Req("attention.head_count");
        int nHeadKv = (int)(f.GetInt($"{arch}.attention.head_count_kv") ?? nHead);
        if (nHeadKv <= 0 || nHead % nHeadKv != 0)
        {
            throw new ModelFormatException(f.FilePath, $"head_count {nHead} is not a multiple of head_count_kv {nHeadKv}");
        }
        int headDim = (int)(f.GetInt($"{arch}.attention.key_length") ?? nEmbd / nHead);
        if (headDim <= 0 || headDim % 2 != 0)
        {
            throw new ModelFormatException(f.FilePath, $"head dimension {headDim} must be positive and even");
        }
        int vocab = f.GetArray<string>("tokenizer.ggml.tokens")?.Length
            ?? (f.TryGetTensor("token_embd.weight", out var emb) ? (int)emb.Rows : 0);
        if (vocab <= 0)
        {
            throw new ModelFormatException(f.FilePath, "no vocabulary: neither tokenizer.ggml.tokens nor token_embd.weight");
        }
        float scale = 1f;
        if (f.GetString($"{arch}.rope.scaling.type") is "linear")
        {
            scale = (float)(f.GetDouble($"{arch}.rope.scaling.factor") ?? 1.0);
        }
        return new ModelConfig
        {
            Architecture = arch,
            EmbeddingLength = nEmbd,
            BlockCount = Req("block_count"),
            FeedForwardLength = Req("feed_forward_length"),
            HeadCount = nHead,
            HeadCountKv = nHeadKv,
            HeadDim = headDim,
            ContextLength = (int)(f.GetInt($"{arch}.context_length") ?? 2048),
            VocabSize = vocab,
            RopeFreqBase = (float)(f.GetDouble($"{arch}.rope.freq_base") ?? 10000.0),
            RmsNormEps = (float)(f.GetDouble($"{arch}.attention.layer_norm_rms_epsilon") ?? 1e-5),
            RopeLayout = arch == "llama" ? RopeLayout.Normal : RopeLayout.NeoX,
            RopeScale = scale,
            HasQkvBias = arch == "qwen2",
            HasQkNorm = arch == "qwen3",
        };
    }
}
