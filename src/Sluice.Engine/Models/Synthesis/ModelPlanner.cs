using System.Globalization;
using Sluice.Engine.Formats.Gguf;

namespace Sluice.Engine.Models.Synthesis;

/// <summary>
/// Lays out a synthetic model: metadata keys and tensor names as llama.cpp's llama/qwen2 loaders read them
/// (the same key set as the conformance models), and each tensor's type from the <see cref="WeightMix"/>.
/// </summary>
public static class ModelPlanner
{
    public static ModelPlan Plan(SynthesisOptions options)
    {
        var shape = options.Shape;
        shape.Validate();
        var vocabulary = shape.VocabSize is { } size ? options.Vocabulary.PadTo(size) : options.Vocabulary;
        return new ModelPlan(shape, options.Mix, vocabulary, Metadata(options, vocabulary.Size, vocabulary.Metadata), Tensors(shape, options.Mix, vocabulary.Size));
    }

    private static List<KeyValuePair<string, GgufValue>> Metadata(SynthesisOptions options, int vocabSize, IEnumerable<KeyValuePair<string, GgufValue>> tokenizer)
    {
        var shape = options.Shape;
        string arch = shape.Architecture;
        var keys = new List<KeyValuePair<string, GgufValue>>
        {
            new("general.architecture", Str(arch)),
            new("general.type", Str("model")),
            new("general.name", Str(options.Name ?? "sluice-synth-" + shape.Name)),
            new("general.description", Str(string.Create(CultureInfo.InvariantCulture,
                $"synthetic random-weight model (sluice model synth, shape {shape.Name}, seed {options.Seed}, {options.Scaling}); vocab {options.Vocabulary.Description}"))),
            new("general.file_type", U32(options.Mix.FileType)),
            new("general.quantization_version", U32(2)),
            new($"{arch}.block_count", U32(shape.BlockCount)),
            new($"{arch}.context_length", U32(shape.ContextLength)),
            new($"{arch}.embedding_length", U32(shape.EmbeddingLength)),
            new($"{arch}.feed_forward_length", U32(shape.FeedForwardLength)),
            new($"{arch}.attention.head_count", U32(shape.HeadCount)),
            new($"{arch}.attention.head_count_kv", U32(shape.HeadCountKv)),
            new($"{arch}.rope.freq_base", new GgufValue(GgufValueType.Float32, shape.RopeFreqBase)),
            new($"{arch}.attention.layer_norm_rms_epsilon", new GgufValue(GgufValueType.Float32, shape.RmsNormEpsilon)),
            new($"{arch}.vocab_size", U32(vocabSize)),
        };
        if (arch == ModelShape.Llama)
        {
            // llama.cpp's llama converter writes the rotary dimension; qwen2's does not.
            keys.Add(new($"{arch}.rope.dimension_count", U32(shape.HeadDim)));
        }
        keys.AddRange(tokenizer);
        return keys;
    }

    private static List<PlannedTensor> Tensors(ModelShape shape, WeightMix mix, int vocabSize)
    {
        long d = shape.EmbeddingLength;
        long kv = shape.KvDim;
        long ff = shape.FeedForwardLength;
        var tensors = new List<PlannedTensor>();
        void Add(string name, TensorRole role, int layer, params long[] dims) =>
            tensors.Add(new PlannedTensor(name, role, layer, dims,
                mix.TypeFor(role, layer, shape.BlockCount, dims[0], shape.Tied, dims.Length == 1)));

        Add("token_embd.weight", TensorRole.TokenEmbedding, -1, d, vocabSize);
        for (int i = 0; i < shape.BlockCount; i++)
        {
            string p = $"blk.{i}.";
            Add(p + "attn_norm.weight", TensorRole.AttentionNorm, i, d);
            Add(p + "attn_q.weight", TensorRole.AttentionQ, i, d, d);
            Add(p + "attn_k.weight", TensorRole.AttentionK, i, d, kv);
            Add(p + "attn_v.weight", TensorRole.AttentionV, i, d, kv);
            if (shape.HasQkvBias)
            {
                Add(p + "attn_q.bias", TensorRole.AttentionQBias, i, d);
                Add(p + "attn_k.bias", TensorRole.AttentionKBias, i, kv);
                Add(p + "attn_v.bias", TensorRole.AttentionVBias, i, kv);
            }
            Add(p + "attn_output.weight", TensorRole.AttentionOutput, i, d, d);
            Add(p + "ffn_norm.weight", TensorRole.FeedForwardNorm, i, d);
            Add(p + "ffn_gate.weight", TensorRole.FeedForwardGate, i, d, ff);
            Add(p + "ffn_up.weight", TensorRole.FeedForwardUp, i, d, ff);
            Add(p + "ffn_down.weight", TensorRole.FeedForwardDown, i, ff, d);
        }
        Add("output_norm.weight", TensorRole.OutputNorm, -1, d);
        if (!shape.Tied)
        {
            Add("output.weight", TensorRole.Output, -1, d, vocabSize);
        }
        return tensors;
    }

    private static GgufValue Str(string s) => new(GgufValueType.String, s);

    private static GgufValue U32(int v) => new(GgufValueType.UInt32, (uint)v);
}
