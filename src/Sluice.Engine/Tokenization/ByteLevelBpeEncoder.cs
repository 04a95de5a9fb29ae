using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Sluice.Engine.Tokenization;

/// <summary>Byte-level BPE for a text fragment: pre-tokenize by codepoint class, then BPE each piece's bytes.</summary>
internal sealed class ByteLevelBpeEncoder(Vocabulary vocab)
{
    private readonly PreTokenizer _preTokenizer = PreTokenizer.For(vocab.PreTokenizer);
    private readonly BpeModel _model = new(vocab);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Encode(ReadOnlySpan<char> text, List<int> output, EncodeScratch s)
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
        int from = 0;
        foreach (int end in s.Ends)
        {
            EncodeWord(text[s.CharStarts[from]..s.CharStarts[end]], output, s);
            from = end;
        }
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

/// <summary>Work buffers for one <see cref="Tokenizer.Encode"/> call; not shared between threads.</summary>
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
