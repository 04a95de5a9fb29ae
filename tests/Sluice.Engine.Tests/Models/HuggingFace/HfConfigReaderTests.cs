using Sluice.Engine.Formats;
using Sluice.Engine.Kernels;
using Sluice.Engine.Models.HuggingFace;

namespace Sluice.Engine.Tests.Models.HuggingFace;

/// <summary>config.json of the supported families, as their published checkpoints write it.</summary>
public sealed class HfConfigReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-hfcfg-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Llama31 = """
        {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
         "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 131072,
         "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "vocab_size": 128256, "tie_word_embeddings": false,
         "hidden_act": "silu", "attention_bias": false, "mlp_bias": false, "torch_dtype": "bfloat16",
         "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009],
         "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"}}
        """;

    [Fact]
    public void Read_Llama31_GivesShapeGqaAndLlama3RopeScaling()
    {
        var c = Read(Llama31);
        Assert.Equal("llama", c.Model.Architecture);
        Assert.Equal((4096, 32, 32, 8, 128, 14336, 131072), (c.Model.EmbeddingLength, c.Model.BlockCount, c.Model.HeadCount, c.Model.HeadCountKv, c.Model.HeadDim, c.Model.FeedForwardLength, c.Model.ContextLength));
        Assert.Equal(RopeLayout.NeoX, c.Model.RopeLayout);
        Assert.Equal(500000f, c.Model.RopeFreqBase);
        Assert.Equal(1e-5f, c.Model.RmsNormEps);
        Assert.False(c.TieWordEmbeddings);
        Assert.Equal([128001, 128008, 128009], c.EosTokenIds);
        var f = c.RopeFrequencyFactors!;
        Assert.Equal(64, f.Length);
        // High frequencies (short wavelengths) are kept, low ones divided by the factor, a band interpolated.
        Assert.Equal(1f, f[0]);
        Assert.Equal(8f, f[^1]);
        Assert.True(f.Zip(f.Skip(1)).All(p => p.First <= p.Second));
        Assert.Contains(f, v => v > 1f && v < 8f);
    }

    [Fact]
    public void Llama3Factors_PairsInTheBand_AreInterpolatedAsTheConverterDoes()
    {
        var f = Llama3RopeScaling.FrequencyFactors(128, 500000f, 8f, 1f, 4f, 8192f);
        for (int i = 0; i < f.Length; i++)
        {
            double wavelength = 2 * Math.PI * Math.Pow(500000, 2.0 * i / 128);
            double expected = wavelength < 8192 / 4.0 ? 1 : wavelength > 8192 ? 8
                : 1 / ((1 - (8192 / wavelength - 1) / 3) / 8 + (8192 / wavelength - 1) / 3);
            Assert.Equal(expected, f[i], 3e-5 * expected);
        }
    }

    [Fact]
    public void Read_Mistral_IsLlamaWithItsSlidingWindowIgnored()
    {
        var c = Read("""
            {"architectures": ["MistralForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
             "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": null, "max_position_embeddings": 32768,
             "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "sliding_window": null, "vocab_size": 32768}
            """);
        Assert.Equal("llama", c.Model.Architecture);
        Assert.Equal(128, c.Model.HeadDim);
        Assert.Null(c.RopeFrequencyFactors);
    }

    [Fact]
    public void Read_Qwen2_HasQkvBiasesAndTiedOutput()
    {
        var c = Read("""
            {"architectures": ["Qwen2ForCausalLM"], "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
             "num_attention_heads": 14, "num_key_value_heads": 2, "max_position_embeddings": 32768, "rms_norm_eps": 1e-06,
             "rope_theta": 1000000.0, "tie_word_embeddings": true, "use_sliding_window": false, "sliding_window": 32768,
             "vocab_size": 151936, "torch_dtype": "bfloat16"}
            """);
        Assert.Equal("qwen2", c.Model.Architecture);
        Assert.True(c.Model.HasQkvBias);
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal(64, c.Model.HeadDim);
        Assert.Equal("bfloat16", c.TorchDtype);
    }

    [Fact]
    public void Read_Qwen3_HasQkNormAndExplicitHeadDim()
    {
        var c = Read("""
            {"architectures": ["Qwen3ForCausalLM"], "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
             "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936, "rope_theta": 1000000}
            """);
        Assert.Equal("qwen3", c.Model.Architecture);
        Assert.True(c.Model.HasQkNorm);
        Assert.False(c.Model.HasQkvBias);
        Assert.Equal(128, c.Model.HeadDim);
    }

    [Fact]
    public void Read_LinearRopeScaling_DividesPositions()
    {
        var c = Read(Llama31.Replace("\"factor\": 8.0", "\"factor\": 4.0").Replace("\"rope_type\": \"llama3\"", "\"type\": \"linear\""));
        Assert.Equal(4f, c.Model.RopeScale);
        Assert.Null(c.RopeFrequencyFactors);
    }

    [Theory]
    [InlineData("\"hidden_size\": 4096,", "missing field 'hidden_size'")]
    [InlineData("\"num_hidden_layers\": 32,", "missing field 'num_hidden_layers'")]
    [InlineData("\"vocab_size\": 128256,", "missing field 'vocab_size'")]
    [InlineData("\"architectures\": [\"LlamaForCausalLM\"],", "missing field 'architectures'")]
    public void Read_MissingField_NamesConfigJsonAndTheField(string remove, string expected)
    {
        var ex = Assert.Throws<ModelFormatException>(() => Read(Llama31.Replace(remove, "")));
        Assert.EndsWith("config.json", ex.FilePath);
        Assert.Contains(expected, ex.Problem);
    }

    [Theory]
    [InlineData("\"LlamaForCausalLM\"", "\"GPT2LMHeadModel\"", "not supported")]
    [InlineData("\"rope_type\": \"llama3\"", "\"rope_type\": \"yarn\"", "rope_scaling type 'yarn'")]
    [InlineData("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "hidden_act 'gelu'")]
    [InlineData("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 7", "not a multiple")]
    [InlineData("\"hidden_size\": 4096", "\"hidden_size\": \"big\"", "'hidden_size' must be a positive integer")]
    public void Read_UnsupportedOrInconsistentConfig_IsRefusedWithTheReason(string from, string to, string expected)
    {
        var ex = Assert.Throws<ModelFormatException>(() => Read(Llama31.Replace(from, to)));
        Assert.Contains(expected, ex.Problem);
    }

    [Theory]
    [InlineData("awq", """{"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": true, "version": "gemm"}""")]
    [InlineData("gptq", """{"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": false}""")]
    [InlineData("bitsandbytes", """{"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_quant_type": "nf4"}""")]
    public void Read_PreQuantizedCheckpoint_RefusedSayingWhatIsSupported(string method, string config)
    {
        var ex = Assert.Throws<ModelFormatException>(() => Read(Llama31.Replace("\"torch_dtype\"", $"\"quantization_config\": {config}, \"torch_dtype\"")));
        Assert.Contains($"quantization_config (quant_method '{method}') is not supported", ex.Problem);
        Assert.Contains("F16", ex.Problem);
        Assert.Contains("GGUF", ex.Problem);
        Assert.Contains("--quantization", ex.Problem);
    }

    [Fact]
    public void Read_BadJson_NamesConfigJson()
    {
        var ex = Assert.Throws<ModelFormatException>(() => Read("{\"hidden_size\": "));
        Assert.Contains("not valid JSON", ex.Problem);
    }

    private HfConfig Read(string json)
    {
        string path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, json);
        return HfConfigReader.Read(path);
    }
}
