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

    /// <summary>Widest attention head a file may claim (real models use 64 to 256; kernels size per-head buffers by it).</summary>
    public const int MaxHeadDim = 1 << 16;

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
        int Req(string key) => Int(key) ?? throw new ModelFormatException(f.FilePath, $"missing metadata '{arch}.{key}'");
        // a present key must be a positive integer that fits an int: a header that lies (2^40, -1, a string)
        // is refused, not wrapped or replaced by the default
        int? Int(string key)
        {
            if (!f.Metadata.TryGetValue($"{arch}.{key}", out var value))
            {
                return null;
            }
            long v = value.AsInt64() ?? throw new ModelFormatException(f.FilePath, $"metadata '{arch}.{key}' is {value.Type} {value}, not an integer");
            if (v <= 0 || v > int.MaxValue)
            {
                throw new ModelFormatException(f.FilePath, $"metadata '{arch}.{key}' = {v} is out of range");
            }
            return (int)v;
        }
        float Real(string key, double fallback, double min, bool minIncluded)
        {
            if (!f.Metadata.TryGetValue($"{arch}.{key}", out var value))
            {
                return (float)fallback;
            }
            double v = value.AsDouble() ?? throw new ModelFormatException(f.FilePath, $"metadata '{arch}.{key}' is {value.Type} {value}, not a number");
            float single = (float)v;
            if (!float.IsFinite(single) || single < min || (single == min && !minIncluded))
            {
                throw new ModelFormatException(f.FilePath, $"metadata '{arch}.{key}' = {v} is out of range");
            }
            return single;
        }
        int nEmbd = Req("embedding_length");
        int nHead = Req("attention.head_count");
        int nHeadKv = Int("attention.head_count_kv") ?? nHead;
        if (nHead % nHeadKv != 0)
        {
            throw new ModelFormatException(f.FilePath, $"head_count {nHead} is not a multiple of head_count_kv {nHeadKv}");
        }
        int headDim = Int("attention.key_length") ?? nEmbd / nHead;
        if (headDim <= 0 || headDim % 2 != 0 || headDim > MaxHeadDim)
        {
            throw new ModelFormatException(f.FilePath, $"head dimension {headDim} must be positive, even and at most {MaxHeadDim}");
        }
        if ((long)nHead * headDim > int.MaxValue)
        {
            throw new ModelFormatException(f.FilePath, $"head_count {nHead} x head dimension {headDim} is out of range");
        }
        int vocab = f.GetArray<string>("tokenizer.ggml.tokens")?.Length
            ?? (f.TryGetTensor("token_embd.weight", out var emb) && emb.Rows <= int.MaxValue ? (int)emb.Rows : 0);
        if (vocab <= 0)
        {
            throw new ModelFormatException(f.FilePath, "no vocabulary: neither tokenizer.ggml.tokens nor token_embd.weight");
        }
        float scale = 1f;
        if (f.GetString($"{arch}.rope.scaling.type") is "linear")
        {
            scale = Real("rope.scaling.factor", 1.0, 0, minIncluded: false);
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
            ContextLength = Int("context_length") ?? 2048,
            VocabSize = vocab,
            RopeFreqBase = Real("rope.freq_base", 10000.0, 0, minIncluded: false),
            RmsNormEps = Real("attention.layer_norm_rms_epsilon", 1e-5, 0, minIncluded: true),
            RopeLayout = arch == "llama" ? RopeLayout.Normal : RopeLayout.NeoX,
            RopeScale = scale,
            HasQkvBias = arch == "qwen2",
            HasQkNorm = arch == "qwen3",
        };
    }
}
