using System.Buffers;
using System.Text;
using Sluice.Engine.Formats.Gguf;

namespace Sluice.Engine.Tokenization;

/// <summary>
/// Text ↔ token ids for a GGUF model, matching llama.cpp token for token: SPM (<c>llama</c>) and
/// byte-level BPE (<c>gpt2</c>) vocabularies, special-token parsing, and the piece bytes llama.cpp
/// renders for each token. Thread-safe; build once per model.
/// </summary>
public sealed class Tokenizer
{
    private readonly PieceTable _pieces;
    private readonly SpmModel? _spm;
    private readonly ByteLevelBpeEncoder? _bpe;

    public Tokenizer(Vocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        Vocabulary = vocabulary;
        _pieces = new PieceTable(vocabulary);
        if (vocabulary.Kind == TokenizerKind.Spm)
        {
            _spm = new SpmModel(vocabulary);
        }
        else
        {
            _bpe = new ByteLevelBpeEncoder(vocabulary);
        }
    }

    public static Tokenizer FromGguf(GgufFile file) => new(Vocabulary.FromGguf(file));

    public static Tokenizer FromHuggingFace(string folder, HfTokenizerOptions? options = null) => new(Vocabulary.FromHuggingFace(folder, options));

    public Vocabulary Vocabulary { get; }
    public int VocabSize => Vocabulary.Count;
    public int BosId => Vocabulary.BosId;
    public int EosId => Vocabulary.EosId;

    /// <summary>Whether <see cref="Encode(string, bool, bool)"/> with addSpecial puts BOS first.</summary>
    public bool AddBos => Vocabulary.AddBos;

    public IReadOnlyList<int> EndOfGenerationIds => Vocabulary.EndOfGenerationIds;
    public string? ChatTemplate => Vocabulary.ChatTemplate;

    public bool IsEndOfGeneration(int id) => Vocabulary.IsEndOfGeneration(id);
    public string TokenText(int id) => Vocabulary.Text(CheckId(id));
    public TokenType TokenType(int id) => Vocabulary.Type(CheckId(id));

    /// <summary>
    /// Tokenizes <paramref name="text"/>. <paramref name="addSpecial"/> adds BOS/EOS as the model asks;
    /// <paramref name="parseSpecial"/> lets control-token texts in the input become those tokens
    /// (user-defined tokens are always recognised). Lone surrogates are read as U+FFFD.
    /// </summary>
    public int[] Encode(string text, bool addSpecial = true, bool parseSpecial = false) => Encode(text, addSpecial, parseSpecial, int.MaxValue);

    /// <summary>
    /// As <see cref="Encode(string, bool, bool)"/>, but throws <see cref="TokenLimitExceededException"/>
    /// once the text is certain to have more than <paramref name="maxTokens"/> tokens: at once when it is
    /// longer than that many of the vocabulary's longest pieces, else as soon as tokenizing passes the limit.
    /// </summary>
    public int[] Encode(string text, bool addSpecial, bool parseSpecial, int maxTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTokens);
        if (text.Length > (long)maxTokens * Vocabulary.LongestPieceChars)
        {
            throw new TokenLimitExceededException(maxTokens, text.Length);
        }
        text = ReplaceLoneSurrogates(text);
        var output = new List<int>((int)Math.Min(text.Length / 3, maxTokens) + 4);
        if (addSpecial && Vocabulary.AddBos)
        {
            output.Add(RequireSpecial(Vocabulary.BosId, "BOS"));
        }
        var fragments = SpecialTokenSplitter.Split(text, Vocabulary, parseSpecial);
        var scratch = new EncodeScratch();
        if (_spm != null)
        {
            EncodeSpm(text, fragments, output, scratch, maxTokens);
        }
        else
        {
            foreach (var fragment in fragments)
            {
                if (fragment.IsText)
                {
                    _bpe!.Encode(text.AsSpan(fragment.Start, fragment.Length), output, scratch, maxTokens);
                }
                else
                {
                    output.Add(fragment.TokenId);
                }
            }
        }
        if (output.Count > maxTokens)
        {
            throw new TokenLimitExceededException(maxTokens, text.Length);
        }
        if (addSpecial && Vocabulary.AddEos)
        {
            output.Add(RequireSpecial(Vocabulary.EosId, "EOS"));
        }
        return [.. output];
    }

    /// <summary>
    /// SPM escapes spaces as '▁' and, with add_space_prefix, puts one before the text at the start
    /// and after every special token, as llama.cpp does.
    /// </summary>
    private void EncodeSpm(string text, List<Fragment> fragments, List<int> output, EncodeScratch scratch, int maxTokens)
    {
        bool afterSpecial = true;
        foreach (var fragment in fragments)
        {
            if (!fragment.IsText)
            {
                output.Add(fragment.TokenId);
                afterSpecial = true;
                continue;
            }
            int prefix = Vocabulary.AddSpacePrefix && afterSpecial ? 1 : 0;
            char[] buffer = ArrayPool<char>.Shared.Rent(fragment.Length + prefix);
            buffer[0] = '\u2581';
            var escaped = buffer.AsSpan(prefix, fragment.Length);
            text.AsSpan(fragment.Start, fragment.Length).Replace(escaped, ' ', '\u2581');
            _spm!.Encode(buffer.AsSpan(0, fragment.Length + prefix), output, scratch.Spm);
            ArrayPool<char>.Shared.Return(buffer);
            afterSpecial = false;
            if (output.Count > maxTokens)
            {
                throw new TokenLimitExceededException(maxTokens, text.Length);
            }
        }
    }

    /// <summary>
    /// The bytes of a token's piece: SPM '▁' as space and &lt;0xNN&gt; as that byte, byte-level BPE
    /// mapped back to bytes, user-defined tokens as their text. Control and unknown tokens are empty
    /// unless <paramref name="renderSpecial"/>, which writes their text.
    /// </summary>
    public byte[] TokenBytes(int id, bool renderSpecial = false) => Piece(id, renderSpecial).ToArray();

    internal ReadOnlySpan<byte> Piece(int id, bool renderSpecial) => _pieces.Get(CheckId(id), renderSpecial);

    /// <summary>
    /// The text of a token sequence: the pieces' bytes concatenated and read as UTF-8 (invalid
    /// sequences become U+FFFD). Like llama_detokenize, a vocabulary with add_space_prefix drops one
    /// leading space from the first token's piece (so text after a BOS keeps its space).
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool renderSpecial = false)
    {
        int total = 0;
        foreach (int id in ids)
        {
            total += Piece(id, renderSpecial).Length;
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(total, 1));
        int written = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            var piece = Piece(ids[i], renderSpecial);
            if (i == 0)
            {
                piece = StripSpacePrefix(piece);
            }
            piece.CopyTo(buffer.AsSpan(written));
            written += piece.Length;
        }
        string text = Encoding.UTF8.GetString(buffer, 0, written);
        ArrayPool<byte>.Shared.Return(buffer);
        return text;
    }

    /// <summary>A streaming decoder whose output, concatenated, equals <see cref="Decode"/> of the same ids.</summary>
    public IncrementalDetokenizer CreateDetokenizer(bool startOfSequence = true, bool renderSpecial = false) =>
        new(this, startOfSequence, renderSpecial);

    internal ReadOnlySpan<byte> StripSpacePrefix(ReadOnlySpan<byte> firstPiece) =>
        Vocabulary.AddSpacePrefix && firstPiece.Length > 0 && firstPiece[0] == (byte)' ' ? firstPiece[1..] : firstPiece;

    private int CheckId(int id)
    {
        if ((uint)id >= (uint)Vocabulary.Count)
        {
            ThrowBadId(id);
        }
        return id;
    }

    private int RequireSpecial(int id, string name)
    {
        if (id < 0)
        {
            ThrowNoSpecial(name);
        }
        return id;
    }

    private void ThrowBadId(int id) =>
        throw new ArgumentOutOfRangeException(nameof(id), id, $"token id outside the vocabulary of {Vocabulary.Count}");

    private static void ThrowNoSpecial(string name) =>
        throw new InvalidOperationException($"the model asks for a {name} token but has none");

    /// <summary>Text crossing to llama.cpp would be UTF-8, where an unpaired surrogate can only be U+FFFD.</summary>
    private static string ReplaceLoneSurrogates(string text)
    {
        char[]? copy = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (!char.IsSurrogate(c))
            {
                continue;
            }
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }
            copy ??= text.ToCharArray();
            copy[i] = '\uFFFD';
        }
        return copy == null ? text : new string(copy);
    }
}
