using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;
using Sluice.Engine.Quantization;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Models.Synthesis;

public sealed class ModelPlanTests
{
    [Fact]
    public void Plan_Qwen25Of05B_HasItsRealShapeAndParameterCount()
    {
        var plan = ModelSynthesizer.Plan(new SynthesisOptions(ModelShape.Qwen25_0_5B, WeightMix.F16, SynthVocabulary.Bytes()));
        Assert.Equal(151936, plan.VocabSize);
        Assert.Equal(494_032_768, plan.ParameterCount);
        Assert.Equal(1 + 24 * 12 + 1, plan.Tensors.Count);
        Assert.DoesNotContain(plan.Tensors, t => t.Name == "output.weight");
        Assert.Equal([896L, 128L], plan.Tensor("blk.23.attn_k.weight").Dimensions);
        Assert.Equal([128L], plan.Tensor("blk.0.attn_v.bias").Dimensions);
        Assert.Equal([4864L, 896L], plan.Tensor("blk.5.ffn_down.weight").Dimensions);
        var meta = plan.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value.Value);
        Assert.Equal("qwen2", meta["general.architecture"]);
        Assert.Equal(896u, meta["qwen2.embedding_length"]);
        Assert.Equal(24u, meta["qwen2.block_count"]);
        Assert.Equal(14u, meta["qwen2.attention.head_count"]);
        Assert.Equal(2u, meta["qwen2.attention.head_count_kv"]);
        Assert.Equal(4864u, meta["qwen2.feed_forward_length"]);
        Assert.Equal(32768u, meta["qwen2.context_length"]);
        Assert.Equal(1_000_000f, meta["qwen2.rope.freq_base"]);
        Assert.Equal(1e-6f, meta["qwen2.attention.layer_norm_rms_epsilon"]);
        Assert.Equal(1u, meta["general.file_type"]);
        Assert.Equal(151936, ((string[])meta["tokenizer.ggml.tokens"]).Length);
    }

    [Fact]
    public void Plan_Llama32Of1B_HasItsRealShapeAndParameterCount()
    {
        var plan = ModelSynthesizer.Plan(new SynthesisOptions(ModelShape.Llama32_1B, WeightMix.F16, SynthVocabulary.Bytes()));
        Assert.Equal(1_235_814_400, plan.ParameterCount);
        Assert.Equal(1 + 16 * 9 + 1, plan.Tensors.Count);
        Assert.Equal([2048L, 512L], plan.Tensor("blk.15.attn_v.weight").Dimensions);
        var meta = plan.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value.Value);
        Assert.Equal(32u, meta["llama.attention.head_count"]);
        Assert.Equal(8u, meta["llama.attention.head_count_kv"]);
        Assert.Equal(8192u, meta["llama.feed_forward_length"]);
        Assert.Equal(131072u, meta["llama.context_length"]);
        Assert.Equal(500_000f, meta["llama.rope.freq_base"]);
        Assert.Equal(64u, meta["llama.rope.dimension_count"]);
        Assert.Equal(128256u, meta["llama.vocab_size"]);
        // F16 at 2 bytes per parameter, plus F32 norms.
        Assert.InRange(plan.TensorBytes, 2_471_000_000, 2_472_000_000);
    }

    [Fact]
    public void Plan_Q4KM_GivesQ6KToTheOutputAndAttnVAndFfnDownWhereLlamaQuantizeDoes()
    {
        var plan = ModelSynthesizer.Plan(SynthTestModels.Options(SynthTestModels.Small(layers: 8), WeightMix.Q4_K_M));
        int[] moreBits = [0, 3, 6, 7];
        for (int i = 0; i < 8; i++)
        {
            var expected = moreBits.Contains(i) ? GgmlType.Q6_K : GgmlType.Q4_K;
            Assert.Equal(expected, plan.Tensor($"blk.{i}.attn_v.weight").Type);
            Assert.Equal(expected, plan.Tensor($"blk.{i}.ffn_down.weight").Type);
            Assert.Equal(GgmlType.Q4_K, plan.Tensor($"blk.{i}.attn_k.weight").Type);
            Assert.Equal(GgmlType.Q4_K, plan.Tensor($"blk.{i}.ffn_up.weight").Type);
            Assert.Equal(GgmlType.F32, plan.Tensor($"blk.{i}.attn_norm.weight").Type);
        }
        Assert.Equal(GgmlType.Q6_K, plan.Tensor("output.weight").Type);
        Assert.Equal(GgmlType.Q4_K, plan.Tensor("token_embd.weight").Type);
        Assert.Equal(15, plan.Mix.FileType);
    }

    [Fact]
    public void Plan_Q4KMOfLlama32Of1B_MatchesLlamaQuantizesLayerChoice()
    {
        var plan = ModelSynthesizer.Plan(new SynthesisOptions(ModelShape.Llama32_1B, WeightMix.Q4_K_M, SynthVocabulary.Bytes()));
        var q6 = plan.Tensors.Where(t => t.Type == GgmlType.Q6_K && t.Layer >= 0 && t.Role == TensorRole.AttentionV).Select(t => t.Layer);
        Assert.Equal([0, 1, 4, 7, 10, 13, 14, 15], q6);
        Assert.Equal(GgmlType.Q6_K, plan.Tensor("token_embd.weight").Type); // tied: treated as the output
    }

    [Fact]
    public void Plan_RowsTheKQuantsCannotHold_FallBackLikeLlamaQuantize()
    {
        // Qwen2.5-0.5B is 896 wide: 3.5 blocks of 256.
        var plan = ModelSynthesizer.Plan(new SynthesisOptions(ModelShape.Qwen25_0_5B, WeightMix.Q4_K_M, SynthVocabulary.Bytes()));
        Assert.Equal(GgmlType.Q8_0, plan.Tensor("token_embd.weight").Type);
        Assert.Equal(GgmlType.Q4_0, plan.Tensor("blk.1.attn_q.weight").Type);
        Assert.Equal(GgmlType.Q8_0, plan.Tensor("blk.0.attn_v.weight").Type);
        Assert.Equal(GgmlType.Q6_K, plan.Tensor("blk.0.ffn_down.weight").Type); // 4864 columns = 19 blocks
        Assert.Equal(GgmlType.Q4_K, plan.Tensor("blk.4.ffn_down.weight").Type);
    }

    [Theory]
    [InlineData("Q8_0", GgmlType.Q8_0, GgmlType.Q8_0)]
    [InlineData("Q4_0", GgmlType.Q4_0, GgmlType.Q6_K)]
    [InlineData("Q6_K", GgmlType.Q6_K, GgmlType.Q6_K)]
    [InlineData("Q4_K", GgmlType.Q4_K, GgmlType.Q6_K)]
    [InlineData("F16", GgmlType.F16, GgmlType.F16)]
    [InlineData("bf16", GgmlType.BF16, GgmlType.BF16)]
    public void Plan_UniformTypes_KeepTheOutputRule(string mix, GgmlType body, GgmlType output)
    {
        Assert.True(WeightMix.TryParse(mix, out var m));
        var plan = ModelSynthesizer.Plan(SynthTestModels.Options(SynthTestModels.Small(layers: 4), m));
        Assert.All(plan.Tensors.Where(t => t.Dimensions.Length == 2 && t.Role != TensorRole.Output), t => Assert.Equal(body, t.Type));
        Assert.Equal(output, plan.Tensor("output.weight").Type);
    }

    [Fact]
    public void Plan_InconsistentShape_IsRejectedWithTheReason()
    {
        var bad = SynthTestModels.Small() with { HeadCountKv = 3 };
        var ex = Assert.Throws<ArgumentException>(() => ModelSynthesizer.Plan(SynthTestModels.Options(bad, WeightMix.F16)));
        Assert.Contains("multiple of the KV head count", ex.Message);
        Assert.Throws<ArgumentException>(() => ModelSynthesizer.Plan(SynthTestModels.Options(SynthTestModels.Small() with { Architecture = "gpt9" }, WeightMix.F16)));
        Assert.Throws<ArgumentException>(() => ModelSynthesizer.Plan(SynthTestModels.Options(SynthTestModels.Small() with { VocabSize = 100 }, WeightMix.F16)));
    }

    [Fact]
    public void TryGetNamed_AnyCase_FindsTheShape()
    {
        Assert.True(ModelShape.TryGetNamed("Qwen2.5-0.5B", out var s));
        Assert.Same(ModelShape.Qwen25_0_5B, s);
        Assert.False(ModelShape.TryGetNamed("gpt-5", out _));
        Assert.False(WeightMix.TryParse("Q5_K_M", out _));
    }

    [Fact]
    public void Plan_MetadataValues_HaveTheGgufTypesLlamaCppReads()
    {
        var plan = ModelSynthesizer.Plan(SynthTestModels.Options(SynthTestModels.Small(), WeightMix.F16));
        var meta = plan.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(GgufValueType.UInt32, meta["llama.block_count"].Type);
        Assert.Equal(GgufValueType.Float32, meta["llama.rope.freq_base"].Type);
        Assert.Equal(GgufValueType.UInt32, meta["general.file_type"].Type);
        Assert.Equal(GgufValueType.Int32, meta["tokenizer.ggml.token_type"].ElementType);
    }
}
