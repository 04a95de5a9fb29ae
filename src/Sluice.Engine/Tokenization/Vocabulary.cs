using Sluice.Engine.Formats.Gguf;

namespace Sluice.Engine.Tokenization;

/// <summary>
/// A model's token inventory and the tokenizer settings stored beside it in GGUF metadata, resolved
/// the way llama.cpp resolves them (defaults per tokenizer kind and pre-tokenizer, the special-token
/// fixups it applies by token text, and its end-of-generation set). Immutable.
/// </summary>
public sealed class Vocabulary
{
    private readonly string[] _texts;
    private readonly float[] _scores;
    private readonly TokenAttributes[] _attributes;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _idsBySpan;
    private readonly bool[] _isEndOfGeneration;

    internal Vocabulary(VocabularyData data)
    {
        _texts = data.Texts;
        _scores = data.Scores;
        _attributes = data.Attributes;
        _idsBySpan = data.Ids.GetAlternateLookup<ReadOnlySpan<char>>();
        Kind = data.Kind;
        PreTokenizerName = data.PreTokenizerName;
        PreTokenizer = data.PreTokenizer;
        Merges = data.Merges;
        BosId = data.Special.Bos;
        EosId = data.Special.Eos;
        EotId = data.Special.Eot;
        EomId = data.Special.Eom;
        UnknownId = data.Special.Unk;
        PaddingId = data.Special.Pad;
        AddBos = data.AddBos;
        AddEos = data.AddEos;
        AddSpacePrefix = data.AddSpacePrefix;
        IgnoreMerges = data.IgnoreMerges;
        ChatTemplate = data.ChatTemplate;
        EndOfGenerationIds = data.EndOfGeneration;
        _isEndOfGeneration = new bool[_texts.Length];
        foreach (int id in data.EndOfGeneration)
        {
            _isEndOfGeneration[id] = true;
        }
        SpecialTokens = data.SpecialTokens;
    }

    /// <summary>Reads the vocabulary and tokenizer settings of a GGUF file (<c>tokenizer.*</c> keys).</summary>
    public static Vocabulary FromGguf(GgufFile file) => new(GgufVocabularyReader.Read(file));

    /// <summary>Reads a Hugging Face folder's tokenizer.json and tokenizer_config.json (see <see cref="HfTokenizerJsonReader"/>).</summary>
    public static Vocabulary FromHuggingFace(string folder, HfTokenizerOptions? options = null) => new(HfTokenizerJsonReader.Read(folder, options ?? new()));

    public TokenizerKind Kind { get; }

    /// <summary>The <c>tokenizer.ggml.pre</c> value as stored (empty when absent).</summary>
    public string PreTokenizerName { get; }

    /// <summary>The regex family used for byte-level BPE (not used by SPM).</summary>
    public PreTokenizerKind PreTokenizer { get; }

    public int Count => _texts.Length;

    /// <summary>Special ids; -1 where the model has none.</summary>
    public int BosId { get; }
    public int EosId { get; }
    public int EotId { get; }
    public int EomId { get; }
    public int UnknownId { get; }
    public int PaddingId { get; }

    public bool AddBos { get; }
    public bool AddEos { get; }

    /// <summary>SPM: a space is put before the text (and dropped again from the first piece when decoding).</summary>
    public bool AddSpacePrefix { get; }

    /// <summary>Llama-3 style BPE: a pre-token that is itself a vocabulary entry is emitted whole, without merging.</summary>
    public bool IgnoreMerges { get; }

    public string? ChatTemplate { get; }

    /// <summary>Tokens that end generation, ascending.</summary>
    public IReadOnlyList<int> EndOfGenerationIds { get; }

    /// <summary>BPE merges in rank order ("left right"); empty for SPM.</summary>
    internal string[] Merges { get; }

    /// <summary>Control, user-defined and unknown tokens, longest text first: the order llama.cpp splits them out of text.</summary>
    internal int[] SpecialTokens { get; }

    public string Text(int id) => _texts[id];

    /// <summary>
    /// The most characters of input any one token can stand for (the longest token text, plus one for an
    /// SPM space prefix): a text longer than n times this has more than n tokens.
    /// </summary>
    public int LongestPieceChars => _longestPiece ??= _texts.Length == 0 ? 1 : _texts.Max(t => t.Length) + 1;

    private int? _longestPiece;

    public float Score(int id) => _scores[id];

    internal TokenAttributes Attributes(int id) => _attributes[id];

    public bool IsEndOfGeneration(int id) => (uint)id < (uint)_isEndOfGeneration.Length && _isEndOfGeneration[id];

    /// <summary>The type llama.cpp treats the token as (after its fixups; a text-detected end-of-turn token reads as control).</summary>
    public TokenType Type(int id)
    {
        var a = _attributes[id];
        if ((a & TokenAttributes.Control) != 0)
        {
            return TokenType.Control;
        }
        if ((a & TokenAttributes.UserDefined) != 0)
        {
            return TokenType.UserDefined;
        }
        if ((a & TokenAttributes.Byte) != 0)
        {
            return TokenType.Byte;
        }
        if ((a & TokenAttributes.Unknown) != 0)
        {
            return TokenType.Unknown;
        }
        if ((a & TokenAttributes.Unused) != 0)
        {
            return TokenType.Unused;
        }
        return (a & TokenAttributes.Normal) != 0 ? TokenType.Normal : TokenType.Undefined;
    }

    /// <summary>The id whose text is exactly <paramref name="text"/> (the last one when texts repeat, as in llama.cpp).</summary>
    public bool TryGetId(ReadOnlySpan<char> text, out int id) => _idsBySpan.TryGetValue(text, out id);
}
