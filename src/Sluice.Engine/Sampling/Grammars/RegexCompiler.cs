using System.Globalization;
using System.Text;
using static Sluice.Engine.Sampling.Grammars.GrammarExpr;

namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// A regular expression (vLLM's <c>guided_regex</c>) to the grammar of the whole strings it matches, over Unicode
/// characters encoded as UTF-8. Supported: literals, <c>.</c> (any character but a newline), classes <c>[a-z]</c>,
/// <c>[^...]</c>, <c>\d \w \s</c> and their negations, escapes (<c>\n \t \xHH \uHHHH</c>, escaped punctuation),
/// groups <c>(...)</c>, <c>(?:...)</c>, <c>(?&lt;name&gt;...)</c>, alternation, and the quantifiers <c>* + ? {n}
/// {n,} {n,m}</c> (lazy forms too: the set of matches is the same). The pattern is matched whole, so <c>^</c> and
/// <c>$</c> are allowed at its ends. Backreferences, lookaround and word boundaries are refused by name.
/// <see cref="JsonStringContent"/> compiles a JSON schema's <c>pattern</c> instead: the characters of a JSON string's
/// content (what needs escaping in JSON written escaped), and found anywhere in it unless anchored, as JSON Schema reads it.
/// </summary>
public sealed class RegexCompiler
{
    private static readonly (int, int)[] Digits = [('0', '9')];
    private static readonly (int, int)[] Word = [('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
    private static readonly (int, int)[] Space = [('\t', '\r'), (' ', ' ')];

    private readonly int[] _p;
    private readonly string _where;
    private readonly bool _json;
    private int _i;

    private RegexCompiler(string pattern, string where, bool json)
    {
        _p = [.. pattern.EnumerateRunes().Select(r => r.Value)];
        _where = where;
        _json = json;
    }

    /// <summary>
    /// The content (between the quotes) of the JSON strings whose value matches <paramref name="pattern"/>: unanchored, the
    /// match may be anywhere in the value (JSON Schema's reading); <c>^</c> and <c>$</c> anchor it, and only at the pattern's
    /// ends. A character that JSON must escape is written escaped (<c>\"</c>, <c>\\</c>, <c>\n</c>, <c>\u001f</c>); others
    /// as themselves.
    /// </summary>
    public static GrammarExpr JsonStringContent(string pattern, string where = "pattern")
    {
        var c = new RegexCompiler(pattern, where, json: true);
        bool start = c.Peek('^');
        if (start)
        {
            c._i++;
        }
        var expr = c.Alternation();
        if (c._i < c._p.Length)
        {
            throw new GrammarException($"unexpected '{char.ConvertFromUtf32(c._p[c._i])}' at {c._i} in the {where}", where);
        }
        bool end = c._p.Length > 0 && c._p[^1] == '$' && (c._p.Length < 2 || c._p[^2] != '\\');
        var any = Repeat(c.Chars(Utf8Ranges.Complement([])), 0, null);
        return Seq(start ? Empty : any, expr, end ? Empty : any);
    }

    /// <summary>One character of <paramref name="ranges"/>: its UTF-8 bytes, or in a JSON string, escaped where JSON needs it.</summary>
    private GrammarExpr Chars(List<(int Lo, int Hi)> ranges)
    {
        if (!_json)
        {
            return Utf8Ranges.Expr(ranges);
        }
        var options = new List<GrammarExpr>();
        var plain = Utf8Ranges.Complement(Utf8Ranges.Complement(ranges).Concat([(0, 0x1F), ('"', '"'), ('\\', '\\')]));
        plain.RemoveAll(r => r.Lo >= 0xD800 && r.Hi <= 0xDFFF); // the gap Complement leaves where surrogates are
        if (plain.Count > 0)
        {
            options.Add(Utf8Ranges.Expr(plain));
        }
        foreach (int c in Escaped)
        {
            if (ranges.Any(r => r.Lo <= c && c <= r.Hi))
            {
                options.Add(Literal(c switch
                {
                    '"' => "\\\"",
                    '\\' => "\\\\",
                    '\n' => "\\n",
                    '\r' => "\\r",
                    '\t' => "\\t",
                    '\b' => "\\b",
                    '\f' => "\\f",
                    _ => "\\u" + c.ToString("x4", CultureInfo.InvariantCulture),
                }));
            }
        }
        return options.Count > 0 ? Choice([.. options]) : throw new GrammarException($"a character class in the {_where} matches no character", _where);
    }

    private static readonly int[] Escaped = [.. Enumerable.Range(0, 0x20), '"', '\\'];

    public static Grammar Compile(string pattern)
    {
        var c = new RegexCompiler(pattern, "guided_regex", json: false);
        if (c.Peek('^'))
        {
            c._i++;
        }
        var expr = c.Alternation();
        if (c._i < c._p.Length)
        {
            throw new GrammarException($"unexpected '{char.ConvertFromUtf32(c._p[c._i])}' at {c._i} in the regular expression");
        }
        var b = new GrammarBuilder();
        b.Define(b.NewRule(), expr);
        return b.Build();
    }

    private bool Peek(char c) => _i < _p.Length && _p[_i] == c;

    private bool AtEnd => _i >= _p.Length;

    private GrammarExpr Alternation()
    {
        var options = new List<GrammarExpr> { Sequence() };
        while (Peek('|'))
        {
            _i++;
            options.Add(Sequence());
        }
        return Choice([.. options]);
    }

    private GrammarExpr Sequence()
    {
        var items = new List<GrammarExpr>();
        while (!AtEnd && !Peek('|') && !Peek(')'))
        {
            if (Peek('$'))
            {
                _i++;
                if ((_json && !AtEnd) || (!AtEnd && !Peek(')') && !Peek('|')))
                {
                    throw new GrammarException("'$' is supported only at the end of the regular expression", "$");
                }
                continue;
            }
            items.Add(Quantified(Atom()));
        }
        return items.Count == 0 ? Empty : Seq([.. items]);
    }

    private GrammarExpr Quantified(GrammarExpr atom)
    {
        while (!AtEnd)
        {
            int c = _p[_i];
            int min, max;
            if (c == '*' || c == '+' || c == '?')
            {
                _i++;
                (min, max) = c == '*' ? (0, -1) : c == '+' ? (1, -1) : (0, 1);
            }
            else if (c == '{' && TryBraces(out min, out max))
            {
            }
            else
            {
                return atom;
            }
            if (Peek('?'))
            {
                _i++; // lazy: the same strings match
            }
            atom = Repeat(atom, min, max < 0 ? null : max);
        }
        return atom;
    }

    private bool TryBraces(out int min, out int max)
    {
        int start = _i;
        min = max = 0;
        var text = new StringBuilder();
        _i++;
        while (!AtEnd && !Peek('}'))
        {
            text.Append(char.ConvertFromUtf32(_p[_i++]));
        }
        if (AtEnd)
        {
            _i = start;
            return false;
        }
        _i++;
        var parts = text.ToString().Split(',');
        bool ok = parts.Length is 1 or 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out min);
        if (ok && parts.Length == 1)
        {
            max = min;
        }
        else if (ok)
        {
            ok = parts[1].Length == 0 ? (max = -1) == -1 : int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out max) && max >= min;
        }
        if (!ok)
        {
            throw new GrammarException($"'{{{text}}}' is not a repetition count");
        }
        if (min > GrammarBuilder.MaxBoundedRepeat || max > GrammarBuilder.MaxBoundedRepeat)
        {
            throw new GrammarException($"a repetition count over {GrammarBuilder.MaxBoundedRepeat} is not supported");
        }
        return true;
    }

    private GrammarExpr Atom()
    {
        int c = _p[_i++];
        switch (c)
        {
            case '(':
                if (Peek('?'))
                {
                    _i++;
                    if (Peek(':'))
                    {
                        _i++;
                    }
                    else if ((Peek('<') || Peek('P')) && !LookaroundAhead())
                    {
                        while (!AtEnd && _p[_i] != '>')
                        {
                            _i++;
                        }
                        _i++;
                    }
                    else
                    {
                        throw new GrammarException($"lookaround and inline flags '(?...' are not supported in {_where}", "(?");
                    }
                }
                var inner = Alternation();
                if (!Peek(')'))
                {
                    throw new GrammarException("a '(' in the regular expression is not closed");
                }
                _i++;
                return inner;
            case '[':
                return Chars(Class());
            case '.':
                return Chars(Utf8Ranges.Complement([('\n', '\n')]));
            case '\\':
                return Chars(Escape(inClass: false));
            case '*' or '+' or '?' or '{':
                throw new GrammarException($"'{(char)c}' at {_i - 1} has nothing to repeat");
            case '^':
                throw new GrammarException("'^' is supported only at the start of the regular expression", "^");
            default:
                return Chars([(c, c)]);
        }
    }

    private bool LookaroundAhead() => Peek('<') && _i + 1 < _p.Length && _p[_i + 1] is '=' or '!';

    private List<(int, int)> Class()
    {
        bool negate = Peek('^');
        if (negate)
        {
            _i++;
        }
        var ranges = new List<(int, int)>();
        bool first = true;
        while (!AtEnd && (first || !Peek(']')))
        {
            first = false;
            List<(int Lo, int Hi)> lo = _p[_i] == '\\' ? Escape(inClass: true, skip: true) : [(_p[_i], _p[_i++])];
            if (lo.Count == 1 && lo[0].Lo == lo[0].Hi && Peek('-') && _i + 1 < _p.Length && _p[_i + 1] != ']')
            {
                _i++;
                var hi = _p[_i] == '\\' ? Escape(inClass: true, skip: true) : [(_p[_i], _p[_i++])];
                if (hi.Count != 1 || hi[0].Lo != hi[0].Hi || hi[0].Lo < lo[0].Lo)
                {
                    throw new GrammarException("a character class range is out of order");
                }
                ranges.Add((lo[0].Lo, hi[0].Lo));
            }
            else
            {
                ranges.AddRange(lo);
            }
        }
        if (AtEnd)
        {
            throw new GrammarException("a '[' in the regular expression is not closed");
        }
        _i++;
        return negate ? Utf8Ranges.Complement(ranges) : ranges;
    }

    private List<(int Lo, int Hi)> Escape(bool inClass, bool skip = false)
    {
        if (skip)
        {
            _i++;
        }
        if (AtEnd)
        {
            throw new GrammarException("the regular expression ends with a '\\'");
        }
        int c = _p[_i++];
        switch (c)
        {
            case 'd': return [.. Digits];
            case 'D': return Utf8Ranges.Complement(Digits);
            case 'w': return [.. Word];
            case 'W': return Utf8Ranges.Complement(Word);
            case 's': return [.. Space];
            case 'S': return Utf8Ranges.Complement(Space);
            case 'n': return [('\n', '\n')];
            case 't': return [('\t', '\t')];
            case 'r': return [('\r', '\r')];
            case 'f': return [('\f', '\f')];
            case 'v': return [('\v', '\v')];
            case 'x': return [Hex(2)];
            case 'u': return [Hex(4)];
            case 'b' when !inClass:
                throw new GrammarException($"word boundaries '\\b' are not supported in {_where}", "\\b");
            case >= '0' and <= '9' or 'B' or 'A' or 'z' or 'Z' or 'k' or 'p' or 'P':
                throw new GrammarException($"'\\{(char)c}' is not supported in {_where}", $"\\{(char)c}");
            default:
                return [(c, c)];
        }
    }

    private (int, int) Hex(int digits)
    {
        if (_i + digits > _p.Length)
        {
            throw new GrammarException("a \\x or \\u escape is cut short");
        }
        var text = string.Concat(_p.AsSpan(_i, digits).ToArray().Select(d => (char)d));
        _i += digits;
        return int.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v)
            ? (v, v)
            : throw new GrammarException($"'{text}' in a \\x or \\u escape is not hexadecimal");
    }
}
