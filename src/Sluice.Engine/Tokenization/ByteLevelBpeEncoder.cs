using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Sluice.Engine.Tokenization;

/// <summary>Byte-level BPE for a text fragment: pre-tokenize by codepoint class, then BPE each piece's bytes.</summary>
internal sealed class ByteLevelBpeEncoder(Vocabulary vocab)
{
    private readonly PreTokenizer _preTokenizer = PreTokenizer.For(vocab.PreTokenizer);
    private readonly BpeModel _model = new(vocab);

    /// <summary>
    /// Appends the tokens of <paramref name="text"/>, pre-tokenizing a window of
    /// <paramref name="window"/> characters at a time (the scratch holds one window, not the whole text)
    /// and throwing <see cref="TokenLimitExceededException"/> once <paramref name="output"/> holds more
    /// than <paramref name="limit"/> tokens. A window's last two pieces may continue past it, so they are
    /// tokenized again at the start of the next: a piece's bounds depend only on the text from its start
    /// and one character after it, so the result equals tokenizing the text whole.
    /// </summary>
    public void Encode(ReadOnlySpan<char> text, List<int> output, EncodeScratch s, int limit = int.MaxValue, int window = DefaultWindow)
    {
        int pos = 0;
        int size = window;
        while (pos < text.Length)
        {
            int end = (int)Math.Min(text.Length, (long)pos + size);
            if (end < text.Length && char.IsHighSurrogate(text[end - 1]))
            {
                end--; // keep a surrogate pair together
            }
            bool last = end == text.Length;
            var part = text[pos..end];
            Split(part, s);
            int keep = last ? s.Ends.Count : s.Ends.Count - 2;
            if (keep <= 0)
            {
                size *= 2; // one piece longer than the window: look further
                continue;
            }
            int from = 0;
            for (int w = 0; w < keep; w++)
            {
                int to = s.Ends[w];
                EncodeWord(part[s.CharStarts[from]..s.CharStarts[to]], output, s);
                from = to;
            }
            if (output.Count > limit)
            {
                throw new TokenLimitExceededException(limit, text.Length);
            }
            pos += s.CharStarts[from];
            size = window;
        }
    }

    /// <summary>Characters pre-tokenized at a time.</summary>
    public const int DefaultWindow = 16384;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Split(ReadOnlySpan<char> text, EncodeScratch s)
    {
        s.Codepoints.Clear();
        s.Classes.Clear();
        s.CharStarts.Clear();
        s.Ends.Clear();
        for (int i = 0; i < text.Length;)
        {
            Rune.DecodeFromUtf16(text[i..], out var rune, out int used);
            s.Codepoints.Add(rune.Value);
            s.Classes.Add(Codepoints.Classify(rune.Value));
            s.CharStarts.Add(i);
            i += used;
        }
        s.CharStarts.Add(text.Length);
        _preTokenizer.Split(CollectionsMarshal.AsSpan(s.Codepoints), CollectionsMarshal.AsSpan(s.Classes), s.Ends);
    }

    private void EncodeWord(ReadOnlySpan<char> word, List<int> output, EncodeScratch s)
    {
        int max = Encoding.UTF8.GetMaxByteCount(word.Length);
        if (s.Bytes.Length < max)
        {
            s.Bytes = new byte[Math.Max(max, 256)];
            s.Spelled = new char[s.Bytes.Length];
        }
        int n = Encoding.UTF8.GetBytes(word, s.Bytes);
        for (int i = 0; i < n; i++)
        {
            s.Spelled[i] = ByteLevel.Encode(s.Bytes[i]);
        }
        _model.EncodeWord(s.Bytes.AsSpan(0, n), s.Spelled.AsSpan(0, n), output, s.Bpe);
    }
}

/// <summary>Work buffers for one <see cref="Tokenizer.Encode(string, bool, bool)"/> call; not shared between threads.</summary>
internal sealed class EncodeScratch
{
    public readonly List<int> Codepoints = [];
    public readonly List<CodepointClass> Classes = [];
    public readonly List<int> CharStarts = [];
    public readonly List<int> Ends = [];
    public byte[] Bytes = [];
    public char[] Spelled = [];
    public readonly BpeScratch Bpe = new();
    public readonly SpmScratch Spm = new();
}
