using System.Globalization;
using Sluice.Engine.Formats;
using Sluice.Engine.Kernels;

namespace Sluice.Engine.Models.HuggingFace;

/// <summary>
/// Reads <c>config.json</c> for LlamaForCausalLM (Llama 2/3), MistralForCausalLM, Qwen2ForCausalLM and
/// Qwen3ForCausalLM. Defaults are those of the transformers config classes; anything the engine would
/// silently compute differently (another activation, MLP biases, an unsupported RoPE scaling or sliding
/// window) is refused with the field named.
/// </summary>
public static class HfConfigReader
{
    /// <summary>Checkpoint class → llama.cpp architecture name.</summary>
    private static readonly (string Class, string Architecture)[] Supported =
    [
        ("LlamaForCausalLM", "llama"),
        ("MistralForCausalLM", "llama"),
        ("Qwen2ForCausalLM", "qwen2"),
        ("Qwen3ForCausalLM", "qwen3"),
    ];

    public static IEnumerable<string> SupportedClasses => Supported.Select(s => s.Class);

    public static HfConfig Read(string path)
    {
        using var doc = JsonFields.ParseFile(path);
        return Read(new JsonFields(path, doc.RootElement));
    }

    private static HfConfig Read(JsonFields f)
    {
        var (cls, arch) = Architecture(f);
        if (f.OptionalObject("quantization_config") is { } quantized)
        {
            // AWQ/GPTQ/bitsandbytes/FP8 checkpoints hold packed integers and scales under their own names: refuse them by
            // name rather than fail later on a missing tensor
            string method = quantized.OptionalString("quant_method") ?? "unknown";
            throw Bad(f, $"quantization_config (quant_method '{method}') is not supported: Sluice loads F32, F16 and BF16 safetensors " +
                "(converted at load with --quantization q8_0|q4_0 if asked) and GGUF files (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K); " +
                "use the unquantized checkpoint, or a GGUF conversion of it");
        }
        int hidden = f.RequiredPositiveInt("hidden_size");
        int heads = f.RequiredPositiveInt("num_attention_heads");
        int kvHeads = f.OptionalPositiveInt("num_key_value_heads") ?? heads;
        if (heads % kvHeads != 0)
        {
            throw Bad(f, $"num_attention_heads {heads} is not a multiple of num_key_value_heads {kvHeads}");
        }
        int headDim = f.OptionalPositiveInt("head_dim") ?? hidden / heads;
        if (headDim % 2 != 0 || (f.OptionalPositiveInt("head_dim") == null && hidden % heads != 0))
        {
            throw Bad(f, $"head dimension {headDim} (hidden_size {hidden} / num_attention_heads {heads}) must be a whole, even number");
        }
        string act = f.OptionalString("hidden_act") ?? "silu";
        if (act != "silu")
        {
            throw Bad(f, $"hidden_act '{act}' is not supported (only silu)");
        }
        if (f.OptionalBool("mlp_bias") == true)
        {
            throw Bad(f, "mlp_bias true is not supported");
        }
        if (arch == "qwen2" && f.OptionalBool("use_sliding_window") == true)
        {
            throw Bad(f, "use_sliding_window true is not supported");
        }
        var rope = f.OptionalObject("rope_parameters") ?? f.OptionalObject("rope_scaling");
        float theta = (float)(f.OptionalNumber("rope_theta") ?? rope?.OptionalNumber("rope_theta") ?? 10000.0);
        var (scale, factors, description) = RopeScaling(f, rope, headDim, theta);
        bool tied = f.OptionalBool("tie_word_embeddings") ?? false;
        var model = new ModelConfig
        {
            Architecture = arch,
            EmbeddingLength = hidden,
            BlockCount = f.RequiredPositiveInt("num_hidden_layers"),
            FeedForwardLength = f.RequiredPositiveInt("intermediate_size"),
            HeadCount = heads,
            HeadCountKv = kvHeads,
            HeadDim = headDim,
            ContextLength = f.OptionalPositiveInt("max_position_embeddings") ?? 2048,
            VocabSize = f.RequiredPositiveInt("vocab_size"),
            RopeFreqBase = theta,
            RmsNormEps = (float)(f.OptionalNumber("rms_norm_eps") ?? 1e-6),
            // Checkpoints keep rotate-half q/k rows; llama.cpp's converter permutes llama's for its
            // adjacent-pair RoPE, so unpermuted rows with NeoX pairing compute the same thing.
            RopeLayout = RopeLayout.NeoX,
            RopeScale = scale,
            HasQkvBias = arch == "qwen2" || f.OptionalBool("attention_bias") == true,
            HasQkNorm = arch == "qwen3",
        };
        return new HfConfig
        {
            ArchitectureClass = cls,
            Model = model,
            TieWordEmbeddings = tied,
            TorchDtype = f.OptionalString("torch_dtype") ?? f.OptionalString("dtype"),
            RopeFrequencyFactors = factors,
            RopeScalingDescription = description,
            BosTokenId = f.IdList("bos_token_id") is [int bos, ..] ? bos : null,
            EosTokenIds = f.IdList("eos_token_id"),
        };
    }

    private static (string Class, string Architecture) Architecture(JsonFields f)
    {
        if (!f.TryGet("architectures", out var list) || list.ValueKind != System.Text.Json.JsonValueKind.Array || list.GetArrayLength() == 0)
        {
            throw Bad(f, "missing field 'architectures'");
        }
        var names = list.EnumerateArray().Select(e => e.ToString()).ToList();
        foreach (var (cls, arch) in Supported)
        {
            if (names.Contains(cls))
            {
                return (cls, arch);
            }
        }
        throw Bad(f, $"architecture {string.Join(", ", names)} is not supported (supported: {string.Join(", ", SupportedClasses)})");
    }

    private static (float Scale, float[]? Factors, string Description) RopeScaling(JsonFields f, JsonFields? rope, int headDim, float theta)
    {
        if (rope is not { } r)
        {
            return (1f, null, "none");
        }
        string type = r.OptionalString("rope_type") ?? r.OptionalString("type") ?? "default";
        float factor = (float)(r.OptionalNumber("factor") ?? 1.0);
        switch (type)
        {
            case "default":
                return (1f, null, "none");
            case "linear":
                if (factor <= 0)
                {
                    throw Bad(f, $"rope_scaling factor {factor} must be positive");
                }
                return (factor, null, string.Create(CultureInfo.InvariantCulture, $"linear x{factor}"));
            case "llama3":
                float low = (float)(r.OptionalNumber("low_freq_factor") ?? 1.0);
                float high = (float)(r.OptionalNumber("high_freq_factor") ?? 4.0);
                float original = (float)(r.OptionalNumber("original_max_position_embeddings") ?? f.OptionalNumber("original_max_position_embeddings") ?? 8192);
                if (r.OptionalNumber("factor") == null)
                {
                    factor = 8f;
                }
                if (low == high)
                {
                    throw Bad(f, "rope_scaling low_freq_factor and high_freq_factor must differ");
                }
                return (1f, Llama3RopeScaling.FrequencyFactors(headDim, theta, factor, low, high, original),
                    string.Create(CultureInfo.InvariantCulture, $"llama3 x{factor} (low {low}, high {high}, original context {original})"));
            default:
                throw Bad(f, $"rope_scaling type '{type}' is not supported (supported: linear, llama3)");
        }
    }

    private static ModelFormatException Bad(JsonFields f, string problem) => new(f.Path, problem);
}
