using System.Runtime.CompilerServices;

namespace Sluice.Engine.Tokenization;

/// <summary>The pre-tokenizer regex families llama.cpp knows for byte-level BPE vocabularies.</summary>
public enum PreTokenizerKind
{
    /// <summary>GPT-2: <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>.</summary>
    Gpt2,

    /// <summary>Llama 3: case-insensitive contractions, one optional non-letter before letters, digits in threes, punctuation runs absorb trailing newlines.</summary>
    Llama3,

    /// <summary>Qwen2: as <see cref="Llama3"/> but every digit is its own piece.</summary>
    Qwen2,
}

/// <summary>
/// Splits a text fragment into pre-tokens before BPE merging. Works on codepoints (not UTF-16
/// units) so that astral letters and emoji are classified whole, as llama.cpp's own scanners do;
/// the scanners below follow the regex alternatives in order, which is what llama.cpp's hand-written
/// versions of these regexes do too.
/// </summary>
internal abstract class PreTokenizer
{
    public static PreTokenizer For(PreTokenizerKind kind) => kind switch
    {
        PreTokenizerKind.Llama3 => new Llama3Style(maxDigits: 3),
        PreTokenizerKind.Qwen2 => new Llama3Style(maxDigits: 1),
        _ => new Gpt2Style(),
    };

    /// <summary>Appends the end (exclusive codepoint index) of each piece of <paramref name="cps"/>.</summary>
    public abstract void Split(ReadOnlySpan<int> cps, ReadOnlySpan<CodepointClass> cls, List<int> ends);

    private const CodepointClass WordLike = CodepointClass.Whitespace | CodepointClass.Letter | CodepointClass.Number;

    private static CodepointClass At(ReadOnlySpan<CodepointClass> cls, int i) => i < cls.Length ? cls[i] : CodepointClass.None;

    private static bool Is(ReadOnlySpan<CodepointClass> cls, int i, CodepointClass what) => i < cls.Length && (cls[i] & what) != 0;

    /// <summary>Length of a contraction ('s 't 'm 'd 're 've 'll) starting at <paramref name="pos"/>, or 0.</summary>
    private static int Contraction(ReadOnlySpan<int> cps, int pos, bool ignoreCase)
    {
        if (cps[pos] != '\'' || pos + 1 >= cps.Length)
        {
            return 0;
        }
        int a = Fold(cps[pos + 1], ignoreCase);
        if (a is 's' or 't' or 'm' or 'd')
        {
            return 2;
        }
        if (pos + 2 >= cps.Length)
        {
            return 0;
        }
        int b = Fold(cps[pos + 2], ignoreCase);
        return (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') ? 3 : 0;
    }

    private static int Fold(int cp, bool ignoreCase) => ignoreCase && cp is >= 'A' and <= 'Z' ? cp + 32 : cp;

    /// <summary>The whitespace alternatives shared by all families; returns the new position.</summary>
    private static int Whitespace(ReadOnlySpan<int> cps, ReadOnlySpan<CodepointClass> cls, int pos, bool newlineRule)
    {
        int n = cps.Length;
        int run = 0;
        int afterLastNewline = -1;
        while (pos + run < n && (cls[pos + run] & CodepointClass.Whitespace) != 0)
        {
            if (cps[pos + run] is '\r' or '\n')
            {
                afterLastNewline = pos + run + 1;
            }
            run++;
        }
        if (newlineRule && afterLastNewline > 0)
        {
            return afterLastNewline; // \s*[\r\n]+
        }
        if (run > 1 && pos + run < n)
        {
            return pos + run - 1; // \s+(?!\S): leave the last space to prefix the next piece
        }
        return pos + Math.Max(run, 1); // \s+, or a lone codepoint nothing matched
    }

    private sealed class Llama3Style(int maxDigits) : PreTokenizer
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Split(ReadOnlySpan<int> cps, ReadOnlySpan<CodepointClass> cls, List<int> ends)
        {
            int n = cps.Length;
            int pos = 0;
            while (pos < n)
            {
                int cp = cps[pos];
                var f = cls[pos];
                int contraction = Contraction(cps, pos, ignoreCase: true);
                if (contraction > 0)
                {
                    pos += contraction;
                }
                else if (cp != '\r' && cp != '\n' && (f & CodepointClass.Number) == 0
                    && ((f & CodepointClass.Letter) != 0 || Is(cls, pos + 1, CodepointClass.Letter)))
                {
                    // [^\r\n\p{L}\p{N}]?\p{L}+
                    pos++;
                    while (Is(cls, pos, CodepointClass.Letter))
                    {
                        pos++;
                    }
                }
                else if ((f & CodepointClass.Number) != 0)
                {
                    // \p{N}{1,maxDigits}
                    int start = pos;
                    while (pos - start < maxDigits && Is(cls, pos, CodepointClass.Number))
                    {
                        pos++;
                    }
                }
                else if (((cp == ' ' ? At(cls, pos + 1) : f) & WordLike) == 0)
                {
                    // ' '?[^\s\p{L}\p{N}]+[\r\n]*
                    pos += cp == ' ' ? 1 : 0;
                    while (pos < n && (cls[pos] & WordLike) == 0)
                    {
                        pos++;
                    }
                    while (pos < n && cps[pos] is '\r' or '\n')
                    {
                        pos++;
                    }
                }
                else
                {
                    pos = Whitespace(cps, cls, pos, newlineRule: true);
                }
                ends.Add(pos);
            }
        }
    }

    private sealed class Gpt2Style : PreTokenizer
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Split(ReadOnlySpan<int> cps, ReadOnlySpan<CodepointClass> cls, List<int> ends)
        {
            int n = cps.Length;
            int pos = 0;
            while (pos < n)
            {
                int cp = cps[pos];
                int contraction = Contraction(cps, pos, ignoreCase: false);
                var f2 = cp == ' ' ? At(cls, pos + 1) : cls[pos];
                if (contraction > 0)
                {
                    pos += contraction;
                }
                else if ((f2 & CodepointClass.Letter) != 0)
                {
                    pos = Run(cls, pos + (cp == ' ' ? 1 : 0), c => (c & CodepointClass.Letter) != 0);
                }
                else if ((f2 & CodepointClass.Number) != 0)
                {
                    pos = Run(cls, pos + (cp == ' ' ? 1 : 0), c => (c & CodepointClass.Number) != 0);
                }
                else if ((f2 & WordLike) == 0 && f2 != CodepointClass.None)
                {
                    pos = Run(cls, pos + (cp == ' ' ? 1 : 0), c => (c & WordLike) == 0);
                }
                else
                {
                    pos = Whitespace(cps, cls, pos, newlineRule: false);
                }
                ends.Add(pos);
            }
        }

        private static int Run(ReadOnlySpan<CodepointClass> cls, int pos, Func<CodepointClass, bool> member)
        {
            while (pos < cls.Length && member(cls[pos]))
            {
                pos++;
            }
            return pos;
        }
    }
}
