using Sluice.Engine.Formats;
using Sluice.Engine.Kernels;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Models;

/// <summary>
/// All weights of a model, bound to a mapped GGUF file: matrices stay in the mapping (no copy at load),
/// vectors (norms, biases, RoPE frequency factors) are decoded to float arrays. Every tensor's shape is
/// checked against the configuration, and a missing or misshapen tensor is named in the error.
/// </summary>
public sealed unsafe class ModelWeights
{
    private ModelWeights(ModelConfig config, WeightMatrix embedding, float[] outputNorm, WeightMatrix output, LayerWeights[] layers, float[]? ropeFreqs)
    {
        Config = config;
        TokenEmbedding = embedding;
        OutputNorm = outputNorm;
        Output = output;
        Layers = layers;
        RopeFrequencyFactors = ropeFreqs;
    }

    public ModelConfig Config { get; }

    // (vocab, embedding)
    public WeightMatrix TokenEmbedding { get; }
    public float[] OutputNorm { get; }

    // (vocab, embedding); the token embedding itself when the file ties them
    public WeightMatrix Output { get; }
    public IReadOnlyList<LayerWeights> Layers { get; }

    /// <summary>Per-pair divisors of the RoPE frequencies (Llama 3.1 style `rope_freqs.weight`), or null.</summary>
    public float[]? RopeFrequencyFactors { get; }

    public bool TiedOutput => ReferenceEquals(Output, TokenEmbedding);

    /// <summary>
    /// Every matrix a matmul reads, once: the output (the token embedding itself when tied), then each layer's. Not an
    /// untied token embedding: only its rows are looked up, and it is never packed (its pages may be released as
    /// soon as a matrix is packed: packing it would hand back the rows the lookups read).
    /// </summary>
    public IEnumerable<WeightMatrix> Matrices
    {
        get
        {
            yield return Output;
            foreach (var l in Layers)
            {
                yield return l.Q;
                yield return l.K;
                yield return l.V;
                yield return l.O;
                yield return l.Gate;
                yield return l.Up;
                yield return l.Down;
            }
        }
    }

    public static ModelWeights Load(ITensorSource f, ModelConfig c)
    {
        var binder = new Binder(f);
        int d = c.EmbeddingLength;
        int qDim = c.HeadCount * c.HeadDim;
        int kvDim = c.HeadCountKv * c.HeadDim;
        bool tied = !f.TryGetTensor("output.weight", out _);
        // tied: the output matmul may repack it, and embedding lookups still read its rows
        var embedding = binder.Matrix("token_embd.weight", c.VocabSize, d, releasable: !tied);
        var output = tied ? embedding : binder.Matrix("output.weight", c.VocabSize, d);
        // grown as the tensors are found, not sized by block_count: a header claiming 2^31 blocks fails at the
        // first missing one instead of allocating for them all
        var layers = new List<LayerWeights>();
        for (int i = 0; i < c.BlockCount; i++)
        {
            string p = $"blk.{i}.";
            layers.Add(new LayerWeights
            {
                AttnNorm = binder.Vector(p + "attn_norm.weight", d),
                Q = binder.Matrix(p + "attn_q.weight", qDim, d),
                K = binder.Matrix(p + "attn_k.weight", kvDim, d),
                V = binder.Matrix(p + "attn_v.weight", kvDim, d),
                O = binder.Matrix(p + "attn_output.weight", d, qDim),
                QBias = c.HasQkvBias ? binder.Vector(p + "attn_q.bias", qDim) : binder.OptionalVector(p + "attn_q.bias", qDim),
                KBias = c.HasQkvBias ? binder.Vector(p + "attn_k.bias", kvDim) : binder.OptionalVector(p + "attn_k.bias", kvDim),
                VBias = c.HasQkvBias ? binder.Vector(p + "attn_v.bias", kvDim) : binder.OptionalVector(p + "attn_v.bias", kvDim),
                QNorm = c.HasQkNorm ? binder.Vector(p + "attn_q_norm.weight", c.HeadDim) : null,
                KNorm = c.HasQkNorm ? binder.Vector(p + "attn_k_norm.weight", c.HeadDim) : null,
                FfnNorm = binder.Vector(p + "ffn_norm.weight", d),
                Gate = binder.Matrix(p + "ffn_gate.weight", c.FeedForwardLength, d),
                Up = binder.Matrix(p + "ffn_up.weight", c.FeedForwardLength, d),
                Down = binder.Matrix(p + "ffn_down.weight", d, c.FeedForwardLength),
            });
        }
        var ropeFreqs = binder.OptionalVector("rope_freqs.weight", c.HeadDim / 2);
        return new ModelWeights(c, embedding, binder.Vector("output_norm.weight", d), output, [.. layers], ropeFreqs);
    }

    /// <summary>Binds tensors by name with shape checks; errors name the file and the tensor.</summary>
    private sealed class Binder(ITensorSource f)
    {
        private TensorView Get(string name) =>
            f.TryGetTensor(name, out var t) ? t : throw new ModelFormatException(f.SourcePath, $"missing tensor '{name}'");

        public WeightMatrix Matrix(string name, int rows, int columns, bool releasable = true)
        {
            var t = Get(name);
            if (t.Dimensions.Length != 2 || t.Dimensions[0] != columns || t.Dimensions[1] != rows)
            {
                throw new ModelFormatException(f.SourcePath, $"shape mismatch: tensor '{name}' is {t.ShapeString}, expected [{columns}, {rows}]");
            }
            if (!GgmlTypeInfo.IsSupportedForCompute(t.Type))
            {
                throw new ModelFormatException(f.SourcePath, $"unsupported tensor type {GgmlTypeInfo.Name(t.Type)} for tensor '{name}' (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)");
            }
            return new WeightMatrix(name, t.Type, rows, columns, t.Data, releasable && t.Releasable);
        }

        public float[] Vector(string name, int length)
        {
            var t = Get(name);
            if (t.Dimensions.Length == 0 || t.ElementCount != length || t.Dimensions[0] != length)
            {
                throw new ModelFormatException(f.SourcePath, $"shape mismatch: tensor '{name}' is {t.ShapeString}, expected [{length}]");
            }
            if (!GgmlTypeInfo.IsSupportedForCompute(t.Type))
            {
                throw new ModelFormatException(f.SourcePath, $"unsupported tensor type {GgmlTypeInfo.Name(t.Type)} for tensor '{name}'");
            }
            var v = new float[length];
            fixed (float* p = v)
            {
                RowDecoder.Decode(t.Type, t.Data, p, length);
            }
            return v;
        }

        public float[]? OptionalVector(string name, int length) => f.TryGetTensor(name, out _) ? Vector(name, length) : null;
    }
}
