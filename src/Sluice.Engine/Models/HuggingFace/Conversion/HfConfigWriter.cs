using Sluice.Engine.Formats.SafeTensors;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Models.HuggingFace.Conversion;

/// <summary>Writes <c>config.json</c> and <c>generation_config.json</c> for a model as transformers would save them.</summary>
public static class HfConfigWriter
{
    public static void Write(string folder, ModelConfig c, bool tied, SafeTensorsDType dtype, Vocabulary vocab)
    {
        string cls = c.Architecture switch
        {
            "llama" => "LlamaForCausalLM",
            "qwen2" => "Qwen2ForCausalLM",
            "qwen3" => "Qwen3ForCausalLM",
            _ => throw new NotSupportedException($"no Hugging Face class for architecture '{c.Architecture}'"),
        };
        JsonOutput.Write(Path.Combine(folder, HfConfig.FileName), json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("architectures");
            json.WriteStringValue(cls);
            json.WriteEndArray();
            json.WriteString("model_type", c.Architecture);
            json.WriteNumber("hidden_size", c.EmbeddingLength);
            json.WriteNumber("intermediate_size", c.FeedForwardLength);
            json.WriteNumber("num_hidden_layers", c.BlockCount);
            json.WriteNumber("num_attention_heads", c.HeadCount);
            json.WriteNumber("num_key_value_heads", c.HeadCountKv);
            json.WriteNumber("head_dim", c.HeadDim);
            json.WriteNumber("max_position_embeddings", c.ContextLength);
            json.WriteNumber("vocab_size", c.VocabSize);
            json.WriteNumber("rms_norm_eps", c.RmsNormEps);
            json.WriteNumber("rope_theta", c.RopeFreqBase);
            if (c.RopeScale != 1f)
            {
                json.WriteStartObject("rope_scaling");
                json.WriteString("rope_type", "linear");
                json.WriteNumber("factor", c.RopeScale);
                json.WriteEndObject();
            }
            else
            {
                json.WriteNull("rope_scaling");
            }
            json.WriteString("hidden_act", "silu");
            json.WriteBoolean("attention_bias", c.HasQkvBias);
            json.WriteBoolean("tie_word_embeddings", tied);
            if (c.Architecture == "qwen2")
            {
                json.WriteBoolean("use_sliding_window", false);
            }
            WriteIdOrNull(json, "bos_token_id", vocab.BosId);
            WriteIdOrNull(json, "eos_token_id", vocab.EosId);
            json.WriteString("torch_dtype", TorchName(dtype));
            json.WriteEndObject();
        });
        JsonOutput.Write(Path.Combine(folder, GenerationDefaults.FileName), json =>
        {
            json.WriteStartObject();
            WriteIdOrNull(json, "bos_token_id", vocab.BosId);
            WriteIdOrNull(json, "eos_token_id", vocab.EosId);
            json.WriteEndObject();
        });
    }

    public static string TorchName(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.F32 => "float32",
        SafeTensorsDType.F16 => "float16",
        SafeTensorsDType.BF16 => "bfloat16",
        _ => dtype.ToString().ToLowerInvariant(),
    };

    private static void WriteIdOrNull(System.Text.Json.Utf8JsonWriter json, string name, int id)
    {
        if (id >= 0)
        {
            json.WriteNumber(name, id);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
