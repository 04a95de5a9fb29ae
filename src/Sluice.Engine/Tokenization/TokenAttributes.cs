namespace Sluice.Engine.Tokenization;

/// <summary>
/// Per-token attribute bits as llama.cpp keeps them. They start from the GGUF token type but
/// llama.cpp adds bits by name (e.g. end-of-turn texts become control), so one token can carry
/// several bits, and the bits (not the GGUF type) decide splitting and rendering.
/// </summary>
[Flags]
internal enum TokenAttributes
{
    Undefined = 0,
    Unknown = 1 << 0,
    Unused = 1 << 1,
    Normal = 1 << 2,
    Control = 1 << 3,
    UserDefined = 1 << 4,
    Byte = 1 << 5,
    Normalized = 1 << 6,
    LStrip = 1 << 7,
    RStrip = 1 << 8,
    SingleWord = 1 << 9,
}
