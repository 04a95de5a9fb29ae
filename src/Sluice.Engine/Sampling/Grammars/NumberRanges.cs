using System.Globalization;
using static Sluice.Engine.Sampling.Grammars.GrammarExpr;

namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// Decimal numbers held to a range as grammar: integers written canonically (no leading zeros, no "-0") in [lo, hi],
/// either end open, built digit position by digit position as a regular language; and numbers with integer bounds as
/// such an integer or <c>I.F</c> whose whole value lies in the range (the fraction has no trailing zeros and no exponent
/// is written, so every text the grammar allows is in range).
/// </summary>
public static class NumberRanges
{
    private static readonly GrammarExpr Digit = Bytes(ByteSet.Range((byte)'0', (byte)'9'));
    private static readonly GrammarExpr Digit19 = Bytes(ByteSet.Range((byte)'1', (byte)'9'));
    private static readonly GrammarExpr Fraction = Seq(Literal("."), Repeat(Digit, 0, null), Digit19);

    /// <summary>The integers in [lo, hi] (null: unbounded on that side); null when there are none.</summary>
    public static GrammarExpr? Integers(long? lo, long? hi)
    {
        if (lo > hi)
        {
            return null;
        }
        var options = new List<GrammarExpr>();
        // negative values -m with m in [max(1, -hi), -lo]
        if (lo is null || lo < 0)
        {
            long mLo = hi is { } h && h < 0 ? -h : 1;
            long? mHi = lo is { } l ? -l : null;
            options.Add(Seq(Literal("-"), NonNegative(mLo, mHi)));
        }
        if (hi is null || hi >= 0)
        {
            options.Add(NonNegative(Math.Max(lo ?? 0, 0), hi));
        }
        return Choice([.. options]);
    }

    /// <summary>
    /// The numbers v with lo ≤ v ≤ hi (or &lt; / &gt; when exclusive) for integer bounds: integers in range, and I.F
    /// (a non-zero fraction) whose open interval (I, I+1), or (-(I+1), -I) when negative, lies inside the range.
    /// </summary>
    public static GrammarExpr? Numbers(long? lo, bool loExclusive, long? hi, bool hiExclusive)
    {
        var options = new List<GrammarExpr>();
        if (Integers(lo is { } a && loExclusive ? a + 1 : lo, hi is { } b && hiExclusive ? b - 1 : hi) is { } ints)
        {
            options.Add(ints);
        }
        // positive I.F: I >= max(lo, 0) and I + 1 <= hi
        if (hi is null || hi >= 1)
        {
            if (Integers(Math.Max(lo ?? 0, 0), hi - 1) is { } whole)
            {
                options.Add(Seq(whole, Fraction));
            }
        }
        // negative -I.F: -(I + 1) >= lo and -I <= hi, I >= 0
        if (lo is null || lo <= -1)
        {
            long iLo = hi is { } h && h < 0 ? -h : 0;
            long? iHi = lo is { } l ? -l - 1 : null;
            if (Integers(iLo, iHi) is { } whole)
            {
                options.Add(Seq(Literal("-"), whole, Fraction));
            }
        }
        return options.Count == 0 ? null : Choice([.. options]);
    }

    /// <summary>Canonical non-negative integers in [lo, hi] (hi null: unbounded).</summary>
    private static GrammarExpr NonNegative(long lo, long? hi)
    {
        string a = lo.ToString(CultureInfo.InvariantCulture);
        var options = new List<GrammarExpr>();
        int maxLen = hi is { } h ? h.ToString(CultureInfo.InvariantCulture).Length : a.Length;
        for (int len = a.Length; len <= maxLen; len++)
        {
            string from = len == a.Length ? a : "1" + new string('0', len - 1);
            string to = hi is { } hh && len == maxLen ? hh.ToString(CultureInfo.InvariantCulture) : new string('9', len);
            if (len == 1 && from == "0" && to == "0")
            {
                options.Add(Literal("0"));
                continue;
            }
            if (string.CompareOrdinal(from, to) <= 0)
            {
                options.Add(SameLength(from, to));
            }
        }
        if (hi is null)
        {
            // every number with more digits than lo
            options.Add(Seq(Digit19, Repeat(Digit, a.Length, null)));
        }
        return Choice([.. options]);
    }

    /// <summary>Digit strings of one length between <paramref name="from"/> and <paramref name="to"/> (equal lengths).</summary>
    private static GrammarExpr SameLength(string from, string to)
    {
        if (from.Length == 1)
        {
            return Bytes(ByteSet.Range((byte)from[0], (byte)to[0]));
        }
        if (from[0] == to[0])
        {
            return Seq(Literal(from[..1]), SameLength(from[1..], to[1..]));
        }
        var options = new List<GrammarExpr>
        {
            Seq(Literal(from[..1]), SameLength(from[1..], new string('9', from.Length - 1))),
        };
        if (to[0] - from[0] > 1)
        {
            options.Add(Seq(Bytes(ByteSet.Range((byte)(from[0] + 1), (byte)(to[0] - 1))), Repeat(Digit, from.Length - 1, from.Length - 1)));
        }
        options.Add(Seq(Literal(to[..1]), SameLength(new string('0', to.Length - 1), to[1..])));
        return Choice([.. options]);
    }
}
