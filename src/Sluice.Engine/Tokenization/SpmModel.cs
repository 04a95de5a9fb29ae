using System.Runtime.CompilerServices;
using System.Text;

namespace Sluice.Engine.Tokenization;

/// <summary>
/// llama.cpp's SPM tokenizer: start from the UTF-8 characters of the (space-escaped) text, repeatedly
/// merge the adjacent pair whose concatenation is the highest-scoring vocabulary entry (ties: the
/// leftmost), and spell characters that never became a token as &lt;0xNN&gt; byte tokens.
/// Works on UTF-16 text; symbols are whole codepoints, which is what UTF-8 characters are.
/// </summary>
internal sealed class SpmModel
{
    private readonly Vocabulary _vocab;
    private readonly int[] _byteTokens = new int[256];

    public SpmModel(Vocabulary vocab)
    {
        _vocab = vocab;
        for (int b = 0; b < 256; b++)
        {
            // llama.cpp looks for "<0xNN>" first and falls back to the one-byte text.
            if (!vocab.TryGetId($"<0x{b:X2}>", out _byteTokens[b]) && !(b < 0x80 && vocab.TryGetId(((char)b).ToString(), out _byteTokens[b])))
            {
                _byteTokens[b] = vocab.UnknownId;
            }
        }
    }

    /// <summary>Tokenizes text whose spaces are already '▁'.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Encode(ReadOnlySpan<char> text, List<int> output, SpmScratch s)
    {
        s.Reset(text.Length);
        int n = 0;
        for (int i = 0; i < text.Length; n++)
        {
            int len = char.IsHighSurrogate(text[i]) && i + 1 < text.Length ? 2 : 1;
            s.Start[n] = i;
            s.Length[n] = len;
            s.Prev[n] = n - 1;
            s.Next[n] = i + len == text.Length ? -1 : n + 1;
            i += len;
        }
        if (n == 0)
        {
            return;
        }
        for (int i = 1; i < n; i++)
        {
            TryAddBigram(text, s, i - 1, i);
        }
        while (s.Queue.TryPop(out var bigram))
        {
            int left = bigram.Left;
            int right = bigram.Right;
            // Stale entry: one side has merged since it was queued (lengths only ever grow or drop to 0).
            if (s.Length[left] == 0 || s.Length[right] == 0 || s.Length[left] + s.Length[right] != bigram.Size)
            {
                continue;
            }
            s.Length[left] += s.Length[right];
            s.Length[right] = 0;
            s.Next[left] = s.Next[right];
            if (s.Next[right] >= 0)
            {
                s.Prev[s.Next[right]] = left;
            }
            TryAddBigram(text, s, s.Prev[left], left);
            TryAddBigram(text, s, left, s.Next[left]);
        }
        for (int i = 0; i != -1; i = s.Next[i])
        {
            Emit(text.Slice(s.Start[i], s.Length[i]), output);
        }
    }

    private void TryAddBigram(ReadOnlySpan<char> text, SpmScratch s, int left, int right)
    {
        if (left < 0 || right < 0)
        {
            return;
        }
        int size = s.Length[left] + s.Length[right];
        if (!_vocab.TryGetId(text.Slice(s.Start[left], size), out int id))
        {
            return;
        }
        s.Queue.Push(Priority(_vocab.Score(id), left), new SpmBigram(left, right, size));
    }

    /// <summary>Highest score first, then leftmost: a descending order on the score's sortable bits.</summary>
    private static ulong Priority(float score, int left)
    {
        if (score == 0f)
        {
            score = 0f; // -0 ties with +0 as in C++
        }
        uint bits = (uint)BitConverter.SingleToInt32Bits(score);
        uint ascending = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
        return ((ulong)~ascending << 32) | (uint)left;
    }

    private void Emit(ReadOnlySpan<char> symbol, List<int> output)
    {
        if (_vocab.TryGetId(symbol, out int id))
        {
            output.Add(id);
            return;
        }
        Span<byte> utf8 = stackalloc byte[8];
        int count = Encoding.UTF8.GetBytes(symbol, utf8);
        for (int i = 0; i < count; i++)
        {
            if (_byteTokens[utf8[i]] >= 0)
            {
                output.Add(_byteTokens[utf8[i]]);
            }
        }
    }
}

internal readonly record struct SpmBigram(int Left, int Right, int Size);

/// <summary>Reusable work arrays for one <see cref="SpmModel.Encode"/> call at a time.</summary>
internal sealed class SpmScratch
{
    public int[] Start = [];
    public int[] Length = [];
    public int[] Prev = [];
    public int[] Next = [];
    public readonly MinHeap<SpmBigram> Queue = new();

    public void Reset(int capacity)
    {
        if (Start.Length < capacity)
        {
            int size = Math.Max(capacity, 64);
            Start = new int[size];
            Length = new int[size];
            Prev = new int[size];
            Next = new int[size];
        }
        Queue.Clear();
    }
}
