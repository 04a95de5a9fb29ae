using System.Text;
using static Sluice.Engine.Sampling.Grammars.GrammarExpr;

namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// Sets of Unicode scalar values as byte-level grammar: each range of code points splits into runs whose UTF-8
/// encodings have one length and differ only in a suffix of continuation bytes, and each run is one sequence of
/// byte ranges. Surrogates (not scalar values) are never produced.
/// </summary>
public static class Utf8Ranges
{
    public const int MaxScalar = 0x10FFFF;

    /// <summary>The grammar of one character from <paramref name="ranges"/> (inclusive, any order, may overlap).</summary>
    public static GrammarExpr Expr(IEnumerable<(int Lo, int Hi)> ranges)
    {
        var options = new List<GrammarExpr>();
        foreach (var (lo, hi) in Normalize(ranges))
        {
            Split(lo, hi, options);
        }
        if (options.Count == 0)
        {
            throw new GrammarException("a character class matches no character");
        }
        return Choice([.. options]);
    }

    /// <summary>The scalar values not in <paramref name="ranges"/>.</summary>
    public static List<(int Lo, int Hi)> Complement(IEnumerable<(int Lo, int Hi)> ranges)
    {
        var result = new List<(int, int)>();
        int next = 0;
        foreach (var (lo, hi) in Normalize(ranges))
        {
            if (lo > next)
            {
                result.Add((next, lo - 1));
            }
            next = hi + 1;
        }
        if (next <= MaxScalar)
        {
            result.Add((next, MaxScalar));
        }
        return result;
    }

    /// <summary>Sorted, merged, clipped to scalar values with the surrogates taken out.</summary>
    private static List<(int Lo, int Hi)> Normalize(IEnumerable<(int Lo, int Hi)> ranges)
    {
        var pieces = new List<(int Lo, int Hi)>();
        foreach (var (lo0, hi0) in ranges)
        {
            int lo = Math.Max(lo0, 0), hi = Math.Min(hi0, MaxScalar);
            if (lo <= 0xD7FF || hi >= 0xE000)
            {
                if (lo < 0xD800 && hi > 0xDFFF)
                {
                    pieces.Add((lo, 0xD7FF));
                    pieces.Add((0xE000, hi));
                }
                else if (lo <= hi)
                {
                    pieces.Add((lo >= 0xD800 && lo <= 0xDFFF ? 0xE000 : lo, hi >= 0xD800 && hi <= 0xDFFF ? 0xD7FF : hi));
                }
            }
        }
        pieces.RemoveAll(p => p.Lo > p.Hi);
        pieces.Sort();
        var merged = new List<(int Lo, int Hi)>();
        foreach (var p in pieces)
        {
            if (merged.Count > 0 && p.Lo <= merged[^1].Hi + 1)
            {
                merged[^1] = (merged[^1].Lo, Math.Max(merged[^1].Hi, p.Hi));
            }
            else
            {
                merged.Add(p);
            }
        }
        return merged;
    }

    private static void Split(int lo, int hi, List<GrammarExpr> into)
    {
        foreach (int limit in (ReadOnlySpan<int>)[0x7F, 0x7FF, 0xFFFF])
        {
            if (lo <= limit && hi > limit)
            {
                Split(lo, limit, into);
                Split(limit + 1, hi, into);
                return;
            }
        }
        for (int i = 1; i < 4; i++)
        {
            int m = (1 << (6 * i)) - 1;
            if ((lo & ~m) != (hi & ~m))
            {
                if ((lo & m) != 0)
                {
                    Split(lo, lo | m, into);
                    Split((lo | m) + 1, hi, into);
                    return;
                }
                if ((hi & m) != m)
                {
                    Split(lo, (hi & ~m) - 1, into);
                    Split(hi & ~m, hi, into);
                    return;
                }
            }
        }
        byte[] a = Encode(lo), b = Encode(hi);
        into.Add(Seq([.. a.Select((x, k) => Bytes(ByteSet.Range(x, b[k])))]));
    }

    private static byte[] Encode(int scalar) => Encoding.UTF8.GetBytes(char.ConvertFromUtf32(scalar));
}
