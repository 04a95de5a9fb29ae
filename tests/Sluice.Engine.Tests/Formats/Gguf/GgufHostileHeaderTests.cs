using System.Buffers.Binary;
using System.Diagnostics;
using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Models;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;
using Sluice.Engine.Quantization;
using Sluice.Engine.Sampling;
using Sluice.Engine.Serving;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Formats.Gguf;

/// <summary>Three small valid models (F16, Q8_0, and Q4_K with a Q6_K embedding) to make lying copies of.</summary>
public sealed class HostileModelsFixture : IDisposable
{
    public HostileModelsFixture()
    {
        var small = TestModels.TinyShape with { Name = "hostile" };
        var wide = small with { EmbeddingLength = 256, FeedForwardLength = 256 }; // K-quant rows are 256-element blocks
        Paths = new Dictionary<string, string>
        {
            ["F16"] = Write("f16", small, WeightMix.F16),
            ["Q8_0"] = Write("q8_0", small, WeightMix.Q8_0),
            ["Q4_K"] = Write("q4_k", wide, WeightMix.Q4_K),
        };
    }

    public string Dir { get; } = Directory.CreateTempSubdirectory("sluice-hostile-").FullName;

    public IReadOnlyDictionary<string, string> Paths { get; }

    public GgufImage Image(string model)
    {
        using var file = GgufFile.Open(Paths[model]);
        return GgufImage.Of(file);
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);

    private string Write(string name, ModelShape shape, WeightMix mix)
    {
        string path = Path.Combine(Dir, name + ".gguf");
        ModelSynthesizer.Write(new SynthesisOptions(shape, mix, SynthVocabulary.Bytes()) { Seed = 11, MaxDegreeOfParallelism = 2 }, path);
        return path;
    }
}

/// <summary>
/// Model files whose header lies (issue 16): for each lie, <see cref="ModelLoader.Load(string)"/> either
/// refuses it with a <see cref="ModelFormatException"/> naming the problem, or loads a model that then
/// generates a few tokens through <see cref="LlmEngine"/>; never an access violation (the test host runs
/// with guarded native memory), an exception of another kind, an allocation sized by a lie, or a hang.
/// </summary>
public sealed class GgufHostileHeaderTests(HostileModelsFixture models) : IClassFixture<HostileModelsFixture>
{
    /// <summary>The expected outcome: refused with a message containing this, or <see cref="Runs"/>.</summary>
    private const string Runs = "";

    /// <summary>Either outcome is right (the lie may happen to describe a valid file, e.g. an alignment its offsets meet).</summary>
    private const string Either = "*";

    private static GgufValue U32(uint v) => new(GgufValueType.UInt32, v);
    private static GgufValue U64(ulong v) => new(GgufValueType.UInt64, v);
    private static GgufValue I32(int v) => new(GgufValueType.Int32, v);
    private static GgufValue I64(long v) => new(GgufValueType.Int64, v);
    private static GgufValue F32(float v) => new(GgufValueType.Float32, v);
    private static GgufValue Str(string v) => new(GgufValueType.String, v);
    private static GgufValue Strings(string[] v) => new(GgufValueType.Array, v, GgufValueType.String);
    private static GgufValue Ints(int[] v) => new(GgufValueType.Array, v, GgufValueType.Int32);
    private static GgufValue Floats(float[] v) => new(GgufValueType.Array, v, GgufValueType.Float32);

    private static string[] Tokens(GgufImage g) => (string[])g.Get("tokenizer.ggml.tokens").Value;

    private static GgufImage.Tensor Embedding(GgufImage g) => g.Tensors.First(t => t.Name == "token_embd.weight");

    private static GgufImage.Tensor Last(GgufImage g) => g.Tensors.MaxBy(t => t.Offset)!;

    /// <summary>Writes a u64 over the bytes at a recorded position (a string's length).</summary>
    private static byte[] Patch(GgufImage g, string position, ulong value)
    {
        var bytes = g.ToBytes();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)g.Positions[position]), value);
        return bytes;
    }

    /// <summary>The position of a field of a tensor's header entry: 0 = dimension count, then dims, type, offset.</summary>
    private static int TensorField(GgufImage g, string tensor, string field)
    {
        var t = g.Tensors.First(x => x.Name == tensor);
        long p = g.Positions["tensor:" + tensor] + 8 + System.Text.Encoding.UTF8.GetByteCount(t.Name);
        return (int)(field switch
        {
            "ndims" => p,
            "dim0" => p + 4,
            "type" => p + 4 + (8 * t.Dimensions.Length),
            _ => p + 4 + (8 * t.Dimensions.Length) + 4,
        });
    }

    /// <summary>Every lie, by name: how to tell it, and what the loader must do with it.</summary>
    private static readonly Dictionary<string, (Func<GgufImage, byte[]> Make, string Expect)> Lies = new()
    {
        // counts
        ["tensor count one more"] = (g => { g.TensorCount = (ulong)g.Tensors.Count + 1; return g.ToBytes(); }, "model file"),
        ["tensor count 2^62"] = (g => { g.TensorCount = 1UL << 62; return g.ToBytes(); }, "more than the file can hold"),
        ["tensor count 2^64-1"] = (g => { g.TensorCount = ulong.MaxValue; return g.ToBytes(); }, "more than the file can hold"),
        ["metadata count one more"] = (g => { g.MetadataCount = (ulong)g.Metadata.Count + 1; return g.ToBytes(); }, "model file"),
        ["metadata count one less"] = (g => { g.MetadataCount = (ulong)g.Metadata.Count - 1; return g.ToBytes(); }, "model file"),
        ["metadata count 2^62"] = (g => { g.MetadataCount = 1UL << 62; return g.ToBytes(); }, "more than the file can hold"),
        ["tokens array count 2^62"] = (g => PatchArrayCount(g, "tokenizer.ggml.tokens", 1UL << 62), "runs past the end of the file"),
        ["tokens array count a third of the file"] = (g => PatchArrayCount(g, "tokenizer.ggml.tokens", (ulong)g.ToBytes().Length / 3), "runs past the end of the file"),
        ["token types array count 2^40"] = (g => PatchArrayCount(g, "tokenizer.ggml.token_type", 1UL << 40), "runs past the end of the file"),

        // string lengths
        ["key length past the end"] = (g => Patch(g, "key:general.architecture", 1UL << 40), "runs past the end of the file"),
        ["key length 2^64-1"] = (g => Patch(g, "key:general.architecture", ulong.MaxValue), "runs past the end of the file"),
        ["key length one past the end"] = (g => { var b = g.ToBytes(); return Patch(g, "key:general.architecture", (ulong)(b.Length - g.Positions["key:general.architecture"] - 8 + 1)); }, "runs past the end of the file"),
        ["value string length past the end"] = (g => Patch(g, "value:general.architecture", 1UL << 33), "runs past the end of the file"),
        ["token string length past the end"] = (g => Patch(g, "item:tokenizer.ggml.tokens:5", 1UL << 50), "runs past the end of the file"),
        ["tensor name length past the end"] = (g => Patch(g, "tensor:" + Last(g).Name, 1UL << 35), "runs past the end of the file"),
        ["key length shorter"] = (g => Patch(g, "key:general.architecture", 3), "model file"),

        // value types
        ["unknown value type"] = (g => { var b = g.ToBytes(); int p = (int)g.Positions["key:general.architecture"] + 8 + "general.architecture".Length; b[p] = 99; return b; }, "unknown value type 99"),
        ["array of arrays"] = (g => { var b = g.ToBytes(); int p = (int)g.Positions["key:tokenizer.ggml.token_type"] + 8 + "tokenizer.ggml.token_type".Length + 4; b[p] = 9; return b; }, "unsupported array element type 9"),
        ["duplicate key"] = (g => { g.Metadata.Add(("general.architecture", Str("gpt9"))); return g.ToBytes(); }, "appears twice"),
        ["architecture not a string"] = (g => g.Set("general.architecture", U32(7)).ToBytes(), "missing metadata 'general.architecture'"),
        ["version 1"] = (g => { g.Version = 1; return g.ToBytes(); }, "unsupported GGUF version 1"),
        ["version 2^32-1"] = (g => { g.Version = uint.MaxValue; return g.ToBytes(); }, "unsupported GGUF version"),

        // alignment
        ["alignment 0"] = (g => g.Set("general.alignment", U32(0)).ToBytes(), "general.alignment 0"),
        ["alignment 3"] = (g => g.Set("general.alignment", U32(3)).ToBytes(), "general.alignment 3"),
        ["alignment 2^31"] = (g => g.Set("general.alignment", U32(1u << 31)).ToBytes(), "general.alignment 2147483648"),
        ["alignment 2^40 as u64"] = (g => g.Set("general.alignment", U64(1UL << 40)).ToBytes(), "general.alignment 1099511627776"),
        ["alignment -32"] = (g => g.Set("general.alignment", I32(-32)).ToBytes(), "general.alignment -32"),
        ["alignment a string"] = (g => g.Set("general.alignment", Str("32")).ToBytes(), "general.alignment"),
        ["alignment 64, data laid out at 32"] = (g => g.Set("general.alignment", U32(64)).ToBytes(), Either),
        ["alignment 8, data laid out at 32"] = (g => g.Set("general.alignment", U32(8)).ToBytes(), Either),

        // tensor dimensions, types and offsets
        ["embedding rows doubled"] = (g => g.Change("token_embd.weight", t => t with { Dimensions = [t.Dimensions[0], t.Dimensions[1] * 2] }).ToBytes(), "model file"),
        ["last tensor rows doubled"] = (g => g.Change(Last(g).Name, t => t with { Dimensions = [.. t.Dimensions.SkipLast(1), t.Dimensions[^1] * 2] }).ToBytes(), "model file"),
        ["a matrix's rows halved"] = (g => g.Change("blk.0.attn_q.weight", t => t with { Dimensions = [t.Dimensions[0], t.Dimensions[1] / 2] }).ToBytes(), "shape mismatch: tensor 'blk.0.attn_q.weight'"),
        ["a matrix transposed"] = (g => g.Change("blk.0.ffn_down.weight", t => t with { Dimensions = [t.Dimensions[1], t.Dimensions[0]] }).ToBytes(), Either),
        ["dimensions overflow a long"] = (g => g.Change("blk.0.attn_norm.weight", t => t with { Dimensions = [int.MaxValue, int.MaxValue, int.MaxValue, int.MaxValue] }).ToBytes(), "blk.0.attn_norm.weight"),
        ["dimensions overflow the byte size"] = (g => g.Change("blk.0.attn_norm.weight", t => t with { Dimensions = [int.MaxValue, int.MaxValue, 1 << 20] }).ToBytes(), "blk.0.attn_norm.weight"),
        ["dimension 0"] = (g => g.Change("blk.0.attn_norm.weight", t => t with { Dimensions = [0] }).ToBytes(), "invalid dimension 0"),
        ["dimension 2^40"] = (g => g.Change("blk.0.attn_norm.weight", t => t with { Dimensions = [1L << 40] }).ToBytes(), "invalid dimension 1099511627776"),
        ["dimension -1"] = (g => g.Change("blk.0.attn_norm.weight", t => t with { Dimensions = [-1] }).ToBytes(), "invalid dimension"),
        ["five dimensions"] = (g => g.Change("blk.0.attn_norm.weight", t => t with { Dimensions = [64, 1, 1, 1, 1] }).ToBytes(), "5 dimensions"),
        ["dimension count 2^32-1"] = (g => { var b = g.ToBytes(); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(TensorField(g, "blk.0.attn_norm.weight", "ndims")), uint.MaxValue); return b; }, "4294967295 dimensions"),
        ["no dimensions"] = (g => g.Change("blk.0.attn_norm.weight", t => t with { Dimensions = [] }).ToBytes(), "blk.0.attn_norm.weight"),
        ["vector as a matrix"] = (g => g.Change("output_norm.weight", t => t with { Dimensions = [8, t.Dimensions[0] / 8] }).ToBytes(), "shape mismatch: tensor 'output_norm.weight'"),
        ["row not a whole block"] = (g => g.Change("blk.1.attn_k.weight", t => t with { Dimensions = [t.Dimensions[0] - 1, t.Dimensions[1]] }).ToBytes(), "model file"),
        ["unknown tensor type"] = (g => g.Change("blk.0.attn_v.weight", t => t with { Type = 1000 }).ToBytes(), "unknown tensor type 1000"),
        ["F32 claimed for F16 data"] = (g => g.Change("blk.1.ffn_up.weight", t => t with { Type = t.Type == (uint)GgmlType.F16 ? (uint)GgmlType.F32 : (uint)GgmlType.F16 }).ToBytes(), "model file"),
        ["Q4_0 claimed"] = (g => g.Change("blk.1.ffn_gate.weight", t => t with { Type = (uint)GgmlType.Q4_0 }).ToBytes(), Runs),
        ["offset past the end"] = (g => g.Change("blk.0.attn_q.weight", t => t with { Offset = (ulong)g.Data.Length + 32 }).ToBytes(), "truncated tensor data: tensor 'blk.0.attn_q.weight'"),
        ["offset 2^63"] = (g => g.Change("blk.0.attn_q.weight", t => t with { Offset = 1UL << 63 }).ToBytes(), "invalid data offset"),
        ["offset 2^62"] = (g => g.Change("blk.0.attn_q.weight", t => t with { Offset = 1UL << 62 }).ToBytes(), "truncated tensor data"),
        ["offset 2^64-32"] = (g => g.Change("blk.0.attn_q.weight", t => t with { Offset = ulong.MaxValue - 31 }).ToBytes(), "invalid data offset"),
        ["offset unaligned"] = (g => g.Change("blk.0.attn_q.weight", t => t with { Offset = t.Offset + 1 }).ToBytes(), "is not aligned"),
        ["offset overlapping the next tensor"] = (g => g.Change("blk.0.attn_q.weight", t => t with { Offset = g.Tensors.First(x => x.Name == "blk.0.attn_k.weight").Offset }).ToBytes(), "overlap"),
        ["two tensors at offset 0"] = (g => g.Change(Last(g).Name, t => t with { Offset = 0 }).ToBytes(), "overlap"),
        ["duplicate tensor name"] = (g => { g.Tensors.Add(g.Tensors[0] with { Offset = 0 }); return g.ToBytes(); }, "model file"),
        ["tensor data cut off"] = (g => { g.Data = g.Data[..^1]; return g.ToBytes(); }, "truncated tensor data"),

        // vocabulary
        ["tokens shorter than the embedding"] = (g => g.Set("tokenizer.ggml.tokens", Strings(Tokens(g)[..^10])).ToBytes(), "model file"),
        ["tokens longer than the embedding"] = (g => g.Set("tokenizer.ggml.tokens", Strings([.. Tokens(g), .. Enumerable.Range(0, 10).Select(i => $"extra{i}")])).ToBytes(), "model file"),
        ["no tokens"] = (g => g.Set("tokenizer.ggml.tokens", Strings([])).ToBytes(), "model file"),
        ["tokens not strings"] = (g => g.Set("tokenizer.ggml.tokens", Ints(new int[Tokens(g).Length])).ToBytes(), "tokenizer.ggml.tokens"),
        ["token types shorter"] = (g => g.Set("tokenizer.ggml.token_type", Ints(new int[10])).ToBytes(), "tokenizer.ggml.token_type has 10 entries"),
        ["token types longer"] = (g => g.Set("tokenizer.ggml.token_type", Ints(Enumerable.Repeat(1, Tokens(g).Length + 50).ToArray())).ToBytes(), Runs),
        ["token types all control"] = (g => g.Set("tokenizer.ggml.token_type", Ints(Enumerable.Repeat(3, Tokens(g).Length).ToArray())).ToBytes(), Runs),
        ["token types out of range"] = (g => g.Set("tokenizer.ggml.token_type", Ints(Enumerable.Range(0, Tokens(g).Length).Select(i => i * 977 - 5000).ToArray())).ToBytes(), Runs),
        ["token types strings"] = (g => g.Set("tokenizer.ggml.token_type", Strings(Tokens(g))).ToBytes(), "model file"),
        ["scores shorter"] = (g => g.Set("tokenizer.ggml.scores", Floats(new float[3])).ToBytes(), "tokenizer.ggml.scores has 3 entries"),
        ["scores longer"] = (g => g.Set("tokenizer.ggml.scores", Floats(new float[Tokens(g).Length + 7])).ToBytes(), Runs),
        ["scores NaN"] = (g => g.Set("tokenizer.ggml.scores", Floats(Enumerable.Repeat(float.NaN, Tokens(g).Length).ToArray())).ToBytes(), Runs),
        ["bos outside the vocabulary"] = (g => g.Set("tokenizer.ggml.bos_token_id", U32(100_000)).Set("tokenizer.ggml.add_bos_token", new GgufValue(GgufValueType.Bool, true)).ToBytes(), Runs),
        ["eos outside the vocabulary"] = (g => g.Set("tokenizer.ggml.eos_token_id", U32(uint.MaxValue)).ToBytes(), Runs),
        ["eos 2^40"] = (g => g.Set("tokenizer.ggml.eos_token_id", I64(1L << 40)).ToBytes(), Runs),
        ["special ids negative"] = (g => g.Set("tokenizer.ggml.bos_token_id", I32(-7)).Set("tokenizer.ggml.eos_token_id", I32(-1)).Set("tokenizer.ggml.padding_token_id", I32(int.MinValue)).ToBytes(), Runs),
        ["merges naming unknown tokens"] = (g => g.Set("tokenizer.ggml.merges", Strings(["zq xj", "Ġ Ġ", "h e", "he llo", "x", " ", "", "  ", "a b c", "\u0000 \u0000"])).ToBytes(), Runs),
        ["merges not strings"] = (g => g.Set("tokenizer.ggml.merges", Ints([1, 2, 3])).ToBytes(), "merges"),
        ["a long token outside the byte alphabet"] = (g => g.Set("tokenizer.ggml.tokens", Strings([.. Tokens(g)[..100], new string('\u4e2d', 50_000), .. Tokens(g)[101..]])).ToBytes(), Runs),
        ["malformed byte tokens"] = (g => g.Set("tokenizer.ggml.model", Str("llama"))
            .Set("tokenizer.ggml.tokens", Strings([.. Tokens(g)[..3], "<0x>", "<0xZZ>", "<0x1234567>", "<", .. Tokens(g)[7..]]))
            .Set("tokenizer.ggml.token_type", Ints([.. Enumerable.Repeat(1, 3), 6, 6, 6, 6, .. Enumerable.Repeat(1, Tokens(g).Length - 7)])).ToBytes(), Runs),
        ["unsupported tokenizer"] = (g => g.Set("tokenizer.ggml.model", Str("bert")).ToBytes(), "tokenizer 'bert' is not supported"),
        ["SPM over a byte-level vocabulary"] = (g => g.Set("tokenizer.ggml.model", Str("llama")).ToBytes(), Runs),
        ["vocabulary of 5 tokens"] = (g => g.Set("tokenizer.ggml.tokens", Strings(["a", "b", "c", "d", "e"])).Remove("tokenizer.ggml.token_type").Remove("tokenizer.ggml.scores")
            .Change("token_embd.weight", t => t with { Dimensions = [t.Dimensions[0], 5] }).ToBytes(), Runs),

        // hyperparameters
        ["context length 0"] = (g => g.Set("llama.context_length", U32(0)).ToBytes(), "llama.context_length"),
        ["context length 2^40"] = (g => g.Set("llama.context_length", U64(1UL << 40)).ToBytes(), "llama.context_length"),
        ["context length -1"] = (g => g.Set("llama.context_length", I32(-1)).ToBytes(), "llama.context_length"),
        ["context length 2^32+16"] = (g => g.Set("llama.context_length", U64((1UL << 32) + 16)).ToBytes(), "llama.context_length"),
        ["context length a string"] = (g => g.Set("llama.context_length", Str("1024")).ToBytes(), "llama.context_length"),
        ["context length 1"] = (g => g.Set("llama.context_length", U32(1)).ToBytes(), Runs),
        ["context length 2^31-1"] = (g => g.Set("llama.context_length", U32(int.MaxValue)).ToBytes(), Runs),
        ["head count 3 (does not divide the width)"] = (g => g.Set("llama.attention.head_count", U32(3)).ToBytes(), "model file"),
        ["head count 6 (even head dim, wrong shapes)"] = (g => g.Set("llama.attention.head_count", U32(6)).Set("llama.attention.head_count_kv", U32(6)).ToBytes(), "model file"),
        ["head count wider than the embedding"] = (g => g.Set("llama.attention.head_count", U32(4096)).ToBytes(), "model file"),
        ["head count 2^31"] = (g => g.Set("llama.attention.head_count", U32(1u << 31)).ToBytes(), "llama.attention.head_count"),
        ["kv head count 3"] = (g => g.Set("llama.attention.head_count_kv", U32(3)).ToBytes(), "not a multiple of head_count_kv 3"),
        ["kv head count 0"] = (g => g.Set("llama.attention.head_count_kv", U32(0)).ToBytes(), "head_count_kv"),
        ["kv head count 2^32+2"] = (g => g.Set("llama.attention.head_count_kv", U64((1UL << 32) + 2)).ToBytes(), "head_count_kv"),
        ["kv head count more than heads"] = (g => g.Set("llama.attention.head_count_kv", U32(8)).ToBytes(), "model file"),
        ["key length 2^32+16"] = (g => g.Set("llama.attention.key_length", U64((1UL << 32) + 16)).ToBytes(), "key_length"),
        ["key length 18"] = (g => g.Set("llama.attention.key_length", U32(18)).ToBytes(), "model file"),
        ["key length -2"] = (g => g.Set("llama.attention.key_length", I32(-2)).ToBytes(), "key_length"),
        ["embedding length 2^31-1"] = (g => g.Set("llama.embedding_length", U32(int.MaxValue)).ToBytes(), "model file"),
        ["feed forward length doubled"] = (g => g.Set("llama.feed_forward_length", U32(Convert.ToUInt32(g.Get("llama.feed_forward_length").Value, null) * 2)).ToBytes(), "shape mismatch"),
        ["block count 3 (one more than present)"] = (g => g.Set("llama.block_count", U32(3)).ToBytes(), "missing tensor 'blk.2."),
        ["block count 2^31-1"] = (g => g.Set("llama.block_count", U32(int.MaxValue)).ToBytes(), "model file"),
        ["block count 1 (fewer than present)"] = (g => g.Set("llama.block_count", U32(1)).ToBytes(), Runs),
        ["rope base NaN"] = (g => g.Set("llama.rope.freq_base", F32(float.NaN)).ToBytes(), "llama.rope.freq_base"),
        ["rope base 0"] = (g => g.Set("llama.rope.freq_base", F32(0)).ToBytes(), "llama.rope.freq_base"),
        ["rope base -10000"] = (g => g.Set("llama.rope.freq_base", F32(-10000)).ToBytes(), "llama.rope.freq_base"),
        ["rope base infinite"] = (g => g.Set("llama.rope.freq_base", F32(float.PositiveInfinity)).ToBytes(), "llama.rope.freq_base"),
        ["rms epsilon NaN"] = (g => g.Set("llama.attention.layer_norm_rms_epsilon", F32(float.NaN)).ToBytes(), "layer_norm_rms_epsilon"),
        ["rms epsilon -1"] = (g => g.Set("llama.attention.layer_norm_rms_epsilon", F32(-1)).ToBytes(), "layer_norm_rms_epsilon"),
        ["rope scaling factor 0"] = (g => g.Set("llama.rope.scaling.type", Str("linear")).Set("llama.rope.scaling.factor", F32(0)).ToBytes(), "llama.rope.scaling.factor"),
        ["rope scaling factor NaN"] = (g => g.Set("llama.rope.scaling.type", Str("linear")).Set("llama.rope.scaling.factor", F32(float.NaN)).ToBytes(), "llama.rope.scaling.factor"),
        // shapes that agree with each other but not with any real model
        ["heads 32768 wide, tensors to match"] = (g => Consistent(g, embedding: 16, heads: 1, kvHeads: 1, headDim: 32768, ffn: 16), Runs),
        ["4096 query heads per KV head, tensors to match"] = (g => Consistent(g, embedding: 16, heads: 4096, kvHeads: 1, headDim: 2, ffn: 16), Runs),
        ["an embedding 1 wide"] = (g => Consistent(g, embedding: 1, heads: 1, kvHeads: 1, headDim: 2, ffn: 1), Runs),

        // data that lies about nothing but holds NaN: activations, logits and sampling meet NaN
        ["a norm's weights NaN"] = (g => NaNs(g, "blk.0.attn_norm.weight"), Runs),
        ["the output norm NaN"] = (g => NaNs(g, "output_norm.weight"), Runs),
        ["architecture qwen2 without biases"] = (g => g.Set("general.architecture", Str("qwen2")).ToBytes(), "model file"),
        ["architecture qwen3 without norms"] = (g => g.Set("general.architecture", Str("qwen3")).ToBytes(), "model file"),
    };

    /// <summary>
    /// Replaces every tensor with F32 ones of a shape all the hyperparameters agree on (one layer, tied output),
    /// filled with small values: a file that is consistent but shaped like no real model.
    /// </summary>
    private static byte[] Consistent(GgufImage g, int embedding, int heads, int kvHeads, int headDim, int ffn)
    {
        int vocab = Tokens(g).Length;
        g.Set("llama.embedding_length", U32((uint)embedding)).Set("llama.attention.head_count", U32((uint)heads))
            .Set("llama.attention.head_count_kv", U32((uint)kvHeads)).Set("llama.attention.key_length", U32((uint)headDim))
            .Set("llama.attention.value_length", U32((uint)headDim)).Set("llama.feed_forward_length", U32((uint)ffn))
            .Set("llama.block_count", U32(1)).Set("llama.rope.dimension_count", U32((uint)headDim));
        var shapes = new (string Name, long[] Dims)[]
        {
            ("token_embd.weight", [embedding, vocab]),
            ("output_norm.weight", [embedding]),
            ("blk.0.attn_norm.weight", [embedding]),
            ("blk.0.attn_q.weight", [embedding, (long)heads * headDim]),
            ("blk.0.attn_k.weight", [embedding, (long)kvHeads * headDim]),
            ("blk.0.attn_v.weight", [embedding, (long)kvHeads * headDim]),
            ("blk.0.attn_output.weight", [(long)heads * headDim, embedding]),
            ("blk.0.ffn_norm.weight", [embedding]),
            ("blk.0.ffn_gate.weight", [embedding, ffn]),
            ("blk.0.ffn_up.weight", [embedding, ffn]),
            ("blk.0.ffn_down.weight", [ffn, embedding]),
        };
        g.Tensors.Clear();
        var data = new MemoryStream();
        var rng = new Random(3);
        foreach (var (name, dims) in shapes)
        {
            g.Tensors.Add(new GgufImage.Tensor(name, dims, (uint)GgmlType.F32, (ulong)data.Length));
            long n = dims.Aggregate(1L, (a, b) => a * b);
            var bytes = new byte[n * 4];
            for (long i = 0; i < n; i++)
            {
                float v = name.Contains("norm", StringComparison.Ordinal) ? 1f : (float)(rng.NextDouble() - 0.5) * 0.1f;
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)(i * 4)), v);
            }
            data.Write(bytes);
            while (data.Length % 32 != 0)
            {
                data.WriteByte(0);
            }
        }
        g.Data = data.ToArray();
        return g.ToBytes();
    }

    private static byte[] NaNs(GgufImage g, string tensor)
    {
        var t = g.Tensors.First(x => x.Name == tensor);
        var data = (byte[])g.Data.Clone();
        for (long i = 0; i < t.Dimensions[0]; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan((int)((long)t.Offset + (4 * i))), float.NaN);
        }
        g.Data = data;
        return g.ToBytes();
    }

    private static byte[] PatchArrayCount(GgufImage g, string key, ulong count)
    {
        var bytes = g.ToBytes();
        int p = (int)g.Positions["key:" + key] + 8 + key.Length + 4 + 4;
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(p), count);
        return bytes;
    }

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var model in new[] { "F16", "Q8_0", "Q4_K" })
        {
            foreach (var lie in Lies.Keys)
            {
                data.Add(model, lie);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Load_LyingHeader_IsRefusedOrRuns(string model, string lie)
    {
        var (make, expect) = Lies[lie];
        var bytes = make(models.Image(model));
        var outcome = Outcome(models.Dir, $"{model}-{lie}", bytes);
        if (expect == Either)
        {
            Assert.True(outcome == "ran" || outcome.StartsWith("refused: ", StringComparison.Ordinal), $"{model} / {lie}: {outcome}");
        }
        else if (expect == Runs)
        {
            Assert.True(outcome == "ran", $"{model} / {lie}: {outcome}");
        }
        else
        {
            Assert.True(outcome.StartsWith("refused: ", StringComparison.Ordinal) && outcome.Contains(expect, StringComparison.Ordinal),
                $"{model} / {lie}: expected a refusal containing \"{expect}\", got {outcome}");
        }
    }

    [Fact]
    public void Load_UnchangedImages_Run()
    {
        foreach (var model in models.Paths.Keys)
        {
            Assert.Equal("ran", Outcome(models.Dir, model + "-same", models.Image(model).ToBytes()));
        }
    }

    [Fact]
    public void Generate_WideHeadsInTheLargestKvBlocks_Runs()
    {
        // 1024-token blocks of 32768-wide heads: the attention kernel's widened block is 128 MiB, which it
        // once put on the stack (a stack overflow kills the process, whatever catches what)
        var bytes = Consistent(models.Image("F16"), embedding: 16, heads: 1, kvHeads: 1, headDim: 32768, ffn: 16);
        string path = Path.Combine(models.Dir, "wide-heads.gguf");
        File.WriteAllBytes(path, bytes);
        using var model = ModelLoader.Load(path);
        var options = new EngineOptions { MaxNumSeqs = 1, MaxNumBatchedTokens = 16, BlockSize = EngineOptions.MaxBlockSize, KvCacheMemory = 160 << 20, Threads = 1 };
        Assert.Equal("ran", Generate(model, options));
    }

    [Theory]
    [InlineData("F16", 1_000)]
    [InlineData("Q8_0", 500)]
    [InlineData("Q4_K", 500)]
    public void Load_RandomHeaderMutations_AreRefusedOrRun(string model, int count)
    {
        // reproducible: the seed and the mutation's index name every file that fails
        const int Seed = 16;
        var image = models.Image(model);
        var original = image.ToBytes();
        int headerEnd = original.Length - image.Data.Length;
        var fields = FieldPositions(image);
        var rng = new Random(Seed);
        var clock = Stopwatch.StartNew();
        var tally = new Dictionary<string, int>();
        for (int i = 0; i < count; i++)
        {
            var bytes = (byte[])original.Clone();
            var what = new List<string>();
            int edits = rng.Next(1, 4);
            for (int e = 0; e < edits; e++)
            {
                int p = rng.Next(2) == 0 ? fields[rng.Next(fields.Count)] : rng.Next(8, headerEnd);
                what.Add(Mutate(bytes, p, headerEnd, rng));
            }
            string outcome = Outcome(models.Dir, $"{model}-mutant", bytes);
            Assert.True(outcome == "ran" || outcome.StartsWith("refused: ", StringComparison.Ordinal),
                $"{model} seed {Seed} mutation {i} ({string.Join("; ", what)}): {outcome}");
            string kind = outcome == "ran" ? "ran" : "refused";
            tally[kind] = tally.GetValueOrDefault(kind) + 1;
        }
        Assert.True(tally.GetValueOrDefault("refused") > count / 10, $"too few mutations were refused: {string.Join(", ", tally)}");
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"{count} mutations took {clock.Elapsed}");
    }

    /// <summary>Offsets of the fields that carry structure (counts, lengths, types, dimensions, tensor offsets).</summary>
    private static List<int> FieldPositions(GgufImage g)
    {
        g.ToBytes();
        var list = new List<int> { 4, 8, 16 };
        foreach (var (key, value) in g.Metadata)
        {
            int p = (int)g.Positions["key:" + key];
            list.Add(p);
            list.Add(p + 8 + System.Text.Encoding.UTF8.GetByteCount(key));
            if (value.Type == GgufValueType.Array)
            {
                list.Add(p + 8 + System.Text.Encoding.UTF8.GetByteCount(key) + 8);
            }
        }
        list.AddRange(g.Positions.Where(kv => kv.Key.StartsWith("item:", StringComparison.Ordinal)).Select(kv => (int)kv.Value).Take(32));
        foreach (var t in g.Tensors)
        {
            list.Add((int)g.Positions["tensor:" + t.Name]);
            foreach (var field in new[] { "ndims", "dim0", "type", "offset" })
            {
                list.Add(TensorField(g, t.Name, field));
            }
            list.Add(TensorField(g, t.Name, "dim0") + 8);
        }
        return list;
    }

    private static readonly ulong[] Interesting = [0, 1, 2, 3, 31, 32, 33, 255, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1UL << 32, 1UL << 40, 1UL << 62, long.MaxValue, ulong.MaxValue];

    private static string Mutate(byte[] bytes, int p, int end, Random rng)
    {
        switch (rng.Next(4))
        {
            case 0:
                {
                    byte b = (byte)rng.Next(256);
                    bytes[p] = b;
                    return $"byte {p} = {b}";
                }
            case 1:
                {
                    int bit = rng.Next(8);
                    bytes[p] ^= (byte)(1 << bit);
                    return $"byte {p} bit {bit} flipped";
                }
            case 2 when p + 4 <= end:
                {
                    uint v = (uint)Interesting[rng.Next(Interesting.Length)];
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(p), v);
                    return $"u32 at {p} = {v}";
                }
            default:
                {
                    if (p + 8 > end)
                    {
                        bytes[p] = 0xFF;
                        return $"byte {p} = 255";
                    }
                    ulong v = Interesting[rng.Next(Interesting.Length)];
                    BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(p), v);
                    return $"u64 at {p} = {v}";
                }
        }
    }

    /// <summary>
    /// "refused: MESSAGE" for a <see cref="ModelFormatException"/> (or an argument/not-supported error naming the
    /// problem), "ran" when the model loaded and generated; anything else (another exception, an allocation sized
    /// by the header, an engine error, a hang) is returned as a description the caller fails with.
    /// </summary>
    internal static string Outcome(string dir, string name, byte[] bytes)
    {
        string path = Path.Combine(dir, string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')) + ".gguf");
        File.WriteAllBytes(path, bytes);
        LoadedModel model;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            model = ModelLoader.Load(path);
        }
        catch (Exception ex) when (ex is ModelFormatException or ArgumentException or NotSupportedException)
        {
            allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
            if (allocated > Budget(bytes))
            {
                return $"allocated {allocated:N0} bytes before refusing ({ex.Message})";
            }
            return ex is ModelFormatException ? "refused: " + ex.Message : $"refused ({ex.GetType().Name}): " + ex.Message;
        }
        catch (Exception ex)
        {
            return $"threw {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}";
        }
        finally
        {
            File.Delete(path);
        }
        using (model)
        {
            allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
            if (allocated > Budget(bytes))
            {
                return $"allocated {allocated:N0} bytes loading";
            }
            return Generate(model);
        }
    }

    /// <summary>What loading a file of this size may allocate on the managed heap: a few times the file, whatever its header says.</summary>
    private static long Budget(byte[] bytes) => (64L << 20) + (16L * bytes.Length);

    private static string Generate(LoadedModel model, EngineOptions? options = null)
    {
        try
        {
            using var engine = new LlmEngine(model, options ?? new EngineOptions { MaxNumSeqs = 2, MaxNumBatchedTokens = 64, KvCacheMemory = 4 << 20, Threads = 1 });
            int[] prompt = model.Tokenizer.Encode("Hello, world", addSpecial: true);
            prompt = prompt.Length == 0 || prompt.Any(t => (uint)t >= (uint)model.Config.VocabSize) ? [0] : prompt;
            int room = engine.MaxModelLen - prompt.Length;
            if (room < 1)
            {
                var rejected = Assert.Throws<RequestRejectedException>(() => engine.Submit(new GenerationRequest { Id = "long", PromptTokens = prompt, Sampling = new SamplingParams { MaxTokens = 1 } }));
                return rejected.Reason == EngineRejection.TooLong ? "ran" : "rejected: " + rejected.Message;
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var requests = new[]
            {
                new SamplingParams { Temperature = 0, MaxTokens = Math.Min(3, room), IgnoreEos = true },
                new SamplingParams { Temperature = 0.9f, TopP = 0.9f, TopK = 20, MinP = 0.01f, RepetitionPenalty = 1.2f, MaxTokens = Math.Min(3, room), Seed = 5, Logprobs = 3 },
            };
            var handles = requests.Select((p, i) => engine.Submit(new GenerationRequest { Id = $"r{i}", PromptTokens = prompt, Sampling = p })).ToArray();
            foreach (var h in handles)
            {
                var events = Task.Run(async () =>
                {
                    var list = new List<TokenEvent>();
                    await foreach (var ev in h.Events.ReadAllAsync(timeout.Token))
                    {
                        list.Add(ev);
                    }
                    return list;
                }).GetAwaiter().GetResult();
                var finish = events.LastOrDefault()?.Finish;
                if (finish is not (FinishReason.Stop or FinishReason.Length))
                {
                    return $"generation ended with {finish?.ToString() ?? "nothing"}: {h.State.Error}";
                }
                if (events.Any(e => e.Token >= model.Config.VocabSize))
                {
                    return "generated a token outside the vocabulary";
                }
            }
            return "ran";
        }
        catch (OperationCanceledException)
        {
            return "generation hung (no end in 60 s)";
        }
        catch (Exception ex)
        {
            return $"generation threw {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}";
        }
    }
}
