namespace Sluice.Engine.Tokenization;

/// <summary>What the rest of a Hugging Face folder tells the tokenizer loader (all optional).</summary>
public sealed record HfTokenizerOptions
{
    /// <summary>The embedding's row count (config.json vocab_size): ids the tokenizer lacks become unused "[PADn]" tokens.</summary>
    public int? VocabSize { get; init; }

    /// <summary>The model's name (llama.cpp applies some special-token rules by name).</summary>
    public string? ModelName { get; init; }

    /// <summary>config.json's bos_token_id, used when tokenizer_config.json names no BOS token.</summary>
    public int? FallbackBosId { get; init; }

    /// <summary>config.json's eos_token_id(s), used when tokenizer_config.json names no EOS token.</summary>
    public IReadOnlyList<int> FallbackEosIds { get; init; } = [];

    /// <summary>Further ids that end generation (generation_config.json's eos_token_id list).</summary>
    public IReadOnlyList<int> ExtraEndOfGenerationIds { get; init; } = [];
}
