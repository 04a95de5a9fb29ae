using System.Buffers;
using System.Globalization;
using System.Text;

namespace Sluice.Engine.Tokenization;

/// <summary>
/// The bytes each token stands for (llama.cpp's token_to_piece), computed once for the whole
/// vocabulary into one buffer. Control and unknown tokens have their text as piece but render empty
/// unless special rendering is asked for; unused and undefined tokens are always empty.
/// </summary>
internal sealed class PieceTable
{
    private readonly byte[] _bytes;
    private readonly int[] _offsets;
    private readonly Vocabulary _vocab;

    public PieceTable(Vocabulary vocab)
    {
        _vocab = vocab;
        var buffer = new ArrayBufferWriter<byte>(vocab.Count * 8);
        _offsets = new int[vocab.Count + 1];
        for (int id = 0; id < vocab.Count; id++)
        {
            Append(vocab, id, buffer);
            _offsets[id + 1] = buffer.WrittenCount;
        }
        _bytes = buffer.WrittenSpan.ToArray();
    }

    public ReadOnlySpan<byte> Get(int id, bool renderSpecial)
    {
        if (!renderSpecial && (_vocab.Attributes(id) & (TokenAttributes.Control | TokenAttributes.Unknown)) != 0)
        {
            return [];
        }
        return _bytes.AsSpan(_offsets[id], _offsets[id + 1] - _offsets[id]);
    }

    private static void Append(Vocabulary vocab, int id, ArrayBufferWriter<byte> output)
    {
        var attributes = vocab.Attributes(id);
        string text = vocab.Text(id);
        if ((attributes & (TokenAttributes.Control | TokenAttributes.Unknown | TokenAttributes.UserDefined)) != 0)
        {
            Utf8(text, output);
        }
        else if ((attributes & TokenAttributes.Normal) != 0)
        {
            if (vocab.Kind == TokenizerKind.Spm)
            {
                Utf8(text.Replace('\u2581', ' '), output);
            }
            else
            {
                ByteLevelText(text, output);
            }
        }
        else if ((attributes & TokenAttributes.Byte) != 0)
        {
            output.Write([ParseByteToken(text)]);
        }
    }

    private static void Utf8(string text, ArrayBufferWriter<byte> output)
    {
        int written = Encoding.UTF8.GetBytes(text, output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length)));
        output.Advance(written);
    }

    /// <summary>Longest token text echoed into each of its characters outside the byte alphabet (see below).</summary>
    private const int MaxEchoedText = 256;

    /// <summary>
    /// Maps each vocabulary character back to its byte. A character outside the byte alphabet is
    /// written the way llama.cpp writes it, as "[UNK_BYTE_0x..&lt;token text&gt;]", the whole text once per
    /// such character; past <see cref="MaxEchoedText"/> characters the text is left out, since a long token
    /// would make that quadratic (50,000 such characters in one token of a lying file asked for 7.7 GB).
    /// </summary>
    private static void ByteLevelText(string text, ArrayBufferWriter<byte> output)
    {
        bool echo = text.Length <= MaxEchoedText;
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in text.EnumerateRunes())
        {
            int b = rune.IsBmp ? ByteLevel.Decode((char)rune.Value) : -1;
            if (b >= 0)
            {
                output.Write([(byte)b]);
                continue;
            }
            int n = rune.EncodeToUtf8(utf8);
            var sb = new StringBuilder("[UNK_BYTE_0x");
            for (int i = 0; i < n; i++)
            {
                sb.Append(utf8[i].ToString("x2", CultureInfo.InvariantCulture));
            }
            Utf8(sb.Append(echo ? text : "").Append(']').ToString(), output);
        }
    }

    /// <summary>"&lt;0xNN&gt;" → NN, as llama.cpp reads byte tokens (hex digits at offset 3).</summary>
    private static byte ParseByteToken(string text) =>
        text.Length >= 5 && byte.TryParse(text.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out byte b) ? b : (byte)0;
}
