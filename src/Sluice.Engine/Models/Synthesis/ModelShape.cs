namespace Sluice.Engine.Models.Synthesis;

/// <summary>
/// The hyperparameters of a synthetic model. <see cref="VocabSize"/> null means "as many rows as the
/// vocabulary has tokens".
/// </summary>
public sealed record ModelShape(
    string Name,
    string Architecture,
    int EmbeddingLength,
    int BlockCount,
    int HeadCount,
    int HeadCountKv,
    int FeedForwardLength,
    int ContextLength,
    int? VocabSize,
    bool Tied,
    float RopeFreqBase,
    float RmsNormEpsilon)
{
    public const string Llama = "llama";
    public const string Qwen2 = "qwen2";

    public static IReadOnlyList<string> Architectures { get; } = [Llama, Qwen2];

    /// <summary>Like the conformance tiny-llama: seconds to write, any vocabulary.</summary>
    public static ModelShape Tiny { get; } = new("tiny", Llama, 256, 2, 4, 2, 512, 2048, null, false, 10000f, 1e-5f);

    /// <summary>Qwen2.5-0.5B's dimensions.</summary>
    public static ModelShape Qwen25_0_5B { get; } = new("qwen2.5-0.5b", Qwen2, 896, 24, 14, 2, 4864, 32768, 151936, true, 1_000_000f, 1e-6f);

    /// <summary>Llama-3.2-1B's dimensions (its llama3 RoPE frequency scaling is not reproduced).</summary>
    public static ModelShape Llama32_1B { get; } = new("llama-3.2-1b", Llama, 2048, 16, 32, 8, 8192, 131072, 128256, true, 500_000f, 1e-5f);

    public static IReadOnlyList<ModelShape> Named { get; } = [Tiny, Qwen25_0_5B, Llama32_1B];

    public static bool TryGetNamed(string name, out ModelShape shape)
    {
        shape = Named.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))!;
        return shape != null;
    }

    public int HeadDim => EmbeddingLength / HeadCount;

    public int KvDim => HeadDim * HeadCountKv;

    /// <summary>qwen2 adds biases to the q, k and v projections.</summary>
    public bool HasQkvBias => Architecture == Qwen2;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent field.</summary>
    public void Validate()
    {
        if (!Architectures.Contains(Architecture))
        {
            throw new ArgumentException($"unknown architecture '{Architecture}' (known: {string.Join(", ", Architectures)})");
        }
        Positive(EmbeddingLength, "embedding length");
        Positive(BlockCount, "block count");
        Positive(HeadCount, "head count");
        Positive(HeadCountKv, "KV head count");
        Positive(FeedForwardLength, "feed-forward length");
        Positive(ContextLength, "context length");
        if (VocabSize is { } v)
        {
            Positive(v, "vocabulary size");
        }
        if (EmbeddingLength % HeadCount != 0 || HeadDim % 2 != 0)
        {
            throw new ArgumentException($"embedding length {EmbeddingLength} must split into {HeadCount} heads of even size");
        }
        if (HeadCount % HeadCountKv != 0)
        {
            throw new ArgumentException($"head count {HeadCount} must be a multiple of the KV head count {HeadCountKv}");
        }
        // Every matrix row is quantized in whole blocks; 32 is the smallest block of the quantized types.
        if (EmbeddingLength % 32 != 0 || FeedForwardLength % 32 != 0)
        {
            throw new ArgumentException($"embedding length {EmbeddingLength} and feed-forward length {FeedForwardLength} must be multiples of 32");
        }
    }

    public string Describe(int vocabSize) =>
        $"{Name} ({Architecture}, {EmbeddingLength} wide, {BlockCount} layers, {HeadCount}/{HeadCountKv} heads, " +
        $"ffn {FeedForwardLength}, context {ContextLength}, vocab {vocabSize}, {(Tied ? "tied" : "untied")} output)";

    private static void Positive(int value, string what)
    {
        if (value <= 0)
        {
            throw new ArgumentException($"{what} must be positive, got {value}");
        }
    }
}
