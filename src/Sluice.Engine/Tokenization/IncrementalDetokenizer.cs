using System.Text;

namespace Sluice.Engine.Tokenization;

/// <summary>
/// Turns a stream of token ids into text for streaming output. Only complete UTF-8 characters come
/// out: bytes of a character split across tokens wait for the rest, and a sequence that can no
/// longer complete comes out as one U+FFFD as soon as that is known. All outputs plus
/// <see cref="Flush"/> equal <see cref="Tokenizer.Decode"/> of the same ids (when started at the
/// start of a sequence; pass startOfSequence: false to continue after a prompt, keeping the first
/// piece's leading space). Not thread-safe: one per stream.
/// </summary>
public sealed class IncrementalDetokenizer
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _renderSpecial;
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];
    private bool _atStart;

    public IncrementalDetokenizer(Tokenizer tokenizer, bool startOfSequence = true, bool renderSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _renderSpecial = renderSpecial;
        _atStart = startOfSequence;
    }

    /// <summary>Adds one token; returns the text that became complete (often empty mid-character).</summary>
    public string Push(int id)
    {
        var piece = _tokenizer.Piece(id, _renderSpecial);
        if (_atStart)
        {
            piece = _tokenizer.StripSpacePrefix(piece);
            _atStart = false;
        }
        return Convert(piece, flush: false);
    }

    /// <summary>Ends the stream: any unfinished character comes out as U+FFFD.</summary>
    public string Flush() => Convert([], flush: true);

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        int needed = _decoder.GetCharCount(bytes, flush);
        if (_chars.Length < needed)
        {
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        }
        int n = _decoder.GetChars(bytes, _chars, flush);
        return n == 0 ? "" : new string(_chars, 0, n);
    }
}
