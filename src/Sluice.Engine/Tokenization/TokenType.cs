namespace Sluice.Engine.Tokenization;

/// <summary>Token types as numbered in GGUF's <c>tokenizer.ggml.token_type</c> array.</summary>
public enum TokenType
{
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
