namespace Sluice.Engine.Models.Synthesis.Vocabulary;

/// <summary>Token types as llama.cpp stores them in tokenizer.ggml.token_type.</summary>
public enum TokenType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
