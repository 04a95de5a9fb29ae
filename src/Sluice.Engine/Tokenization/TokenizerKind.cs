namespace Sluice.Engine.Tokenization;

/// <summary>Which tokenization algorithm a vocabulary uses (GGUF <c>tokenizer.ggml.model</c>).</summary>
public enum TokenizerKind
{
    /// <summary>SentencePiece-style BPE over characters with scores and byte fallback (<c>llama</c>).</summary>
    Spm,

    /// <summary>GPT-2 style byte-level BPE with ranked merges (<c>gpt2</c>).</summary>
    Bpe,
}
