namespace Sluice.Engine.Models.HuggingFace;

/// <summary>
/// What a Hugging Face <c>config.json</c> says, resolved: the engine's <see cref="ModelConfig"/>
/// (with NeoX RoPE, since checkpoints keep Hugging Face's rotate-half layout) and what the loader
/// and tools need beside it.
/// </summary>
public sealed record HfConfig
{
    public const string FileName = "config.json";

    /// <summary>The class named in <c>architectures</c>, e.g. LlamaForCausalLM.</summary>
    public required string ArchitectureClass { get; init; }

    public required ModelConfig Model { get; init; }

    /// <summary>The output matrix is the token embedding (<c>tie_word_embeddings</c>).</summary>
    public bool TieWordEmbeddings { get; init; }

    /// <summary>The checkpoint's declared dtype (<c>torch_dtype</c> or <c>dtype</c>), if any.</summary>
    public string? TorchDtype { get; init; }

    /// <summary>Per-pair RoPE frequency divisors for Llama 3.1's "llama3" scaling, or null.</summary>
    public float[]? RopeFrequencyFactors { get; init; }

    /// <summary>How RoPE is scaled, for display: "none", "linear x4", "llama3 x8 (...)".</summary>
    public string RopeScalingDescription { get; init; } = "none";

    public int? BosTokenId { get; init; }

    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
}
