using System.Globalization;
using static Sluice.Engine.Sampling.Grammars.GrammarExpr;

namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// llama.cpp's GBNF (its <c>grammar</c> field) to a <see cref="Grammar"/> over Unicode characters encoded as UTF-8.
/// Rules <c>name ::= alternatives</c>, one a line (a newline ends a rule unless inside parentheses or after
/// <c>|</c>), starting at <c>root</c>; <c>"literals"</c> and <c>[classes]</c> (<c>[^...]</c>, ranges) with the escapes
/// <c>\n \r \t \\ \" \] \- \xHH \uHHHH \UHHHHHHHH</c>; <c>.</c> (any character); rule references in any order; groups;
/// <c>* + ?</c> and <c>{m} {m,} {m,n}</c>; <c>#</c> comments. An undefined rule, a rule defined twice or a missing
/// root is an error naming it.
/// </summary>
public sealed class GbnfCompiler
{
    private readonly int[] _p;
    private readonly GrammarBuilder _builder = new();
    private readonly Dictionary<string, int> _rules = [];
    private readonly HashSet<string> _defined = [];
    private int _i;

    private GbnfCompiler(string source) => _p = [.. source.EnumerateRunes().Select(r => r.Value)];

    public static Grammar Compile(string source)
    {
        var c = new GbnfCompiler(source);
        c.RuleId("root"); // the builder's first rule is the root
        c.SkipSpace(newlines: true);
        while (!c.AtEnd)
        {
            c.Rule();
            c.SkipSpace(newlines: true);
        }
        if (!c._defined.Contains("root"))
        {
            throw new GrammarException("the grammar has no 'root' rule");
        }
        var undefined = c._rules.Keys.FirstOrDefault(n => !c._defined.Contains(n));
        if (undefined is not null)
        {
            throw new GrammarException($"rule '{undefined}' is used but not defined");
        }
        return c._builder.Build();
    }

    private bool AtEnd => _i >= _p.Length;

    private bool Peek(char c) => _i < _p.Length && _p[_i] == c;

    private void Rule()
    {
        string name = Name() ?? throw Error("expected a rule name");
        SkipSpace(newlines: false);
        if (!(Peek(':') && _i + 2 < _p.Length && _p[_i + 1] == ':' && _p[_i + 2] == '='))
        {
            throw Error($"expected '::=' after '{name}'");
        }
        _i += 3;
        SkipSpace(newlines: false);
        var body = Alternatives(nested: false);
        if (!_defined.Add(name))
        {
            throw new GrammarException($"rule '{name}' is defined twice");
        }
        _builder.Define(RuleId(name), body);
        if (!AtEnd && !Peek('\n') && !Peek('\r'))
        {
            throw Error("expected the end of the line");
        }
    }

    private int RuleId(string name)
    {
        if (!_rules.TryGetValue(name, out int id))
        {
            _rules[name] = id = _builder.NewRule();
        }
        return id;
    }

    private GrammarExpr Alternatives(bool nested)
    {
        var options = new List<GrammarExpr> { Sequence(nested) };
        while (Peek('|'))
        {
            _i++;
            SkipSpace(newlines: true);
            options.Add(Sequence(nested));
        }
        return Choice([.. options]);
    }

    private GrammarExpr Sequence(bool nested)
    {
        var items = new List<GrammarExpr>();
        while (!AtEnd && !Peek('|') && !Peek(')') && !Peek('\n') && !Peek('\r'))
        {
            var item = Primary();
            SkipSpace(nested);
            items.Add(Postfix(item, nested));
        }
        return items.Count == 0 ? Empty : Seq([.. items]);
    }

    private GrammarExpr Primary()
    {
        int c = _p[_i];
        switch (c)
        {
            case '"':
                _i++;
                var chars = new List<GrammarExpr>();
                while (!Peek('"'))
                {
                    if (AtEnd || Peek('\n'))
                    {
                        throw Error("unterminated literal");
                    }
                    int ch = Char();
                    chars.Add(Utf8Ranges.Expr([(ch, ch)]));
                }
                _i++;
                return chars.Count == 0 ? Empty : Seq([.. chars]);
            case '[':
                return Class();
            case '.':
                _i++;
                return Utf8Ranges.Expr([(0, Utf8Ranges.MaxScalar)]);
            case '(':
                _i++;
                SkipSpace(newlines: true);
                var inner = Alternatives(nested: true);
                if (!Peek(')'))
                {
                    throw Error("expected ')'");
                }
                _i++;
                return inner;
            default:
                string name = Name() ?? throw Error($"unexpected '{char.ConvertFromUtf32(c)}'");
                return GrammarExpr.Rule(RuleId(name));
        }
    }

    private GrammarExpr Postfix(GrammarExpr item, bool nested)
    {
        while (!AtEnd)
        {
            if (Peek('*') || Peek('+') || Peek('?'))
            {
                int op = _p[_i++];
                item = op == '*' ? Repeat(item, 0, null) : op == '+' ? Repeat(item, 1, null) : Optional(item);
            }
            else if (Peek('{'))
            {
                _i++;
                SkipSpace(newlines: false);
                int min = Number() ?? throw Error("expected a number after '{'");
                int? max = min;
                SkipSpace(newlines: false);
                if (Peek(','))
                {
                    _i++;
                    SkipSpace(newlines: false);
                    max = Number();
                    SkipSpace(newlines: false);
                }
                if (!Peek('}'))
                {
                    throw Error("expected '}'");
                }
                _i++;
                if (max < min || (max ?? min) > GrammarBuilder.MaxBoundedRepeat)
                {
                    throw Error($"repetition {{{min},{max}}} is out of range");
                }
                item = Repeat(item, min, max);
            }
            else
            {
                break;
            }
            SkipSpace(nested);
        }
        return item;
    }

    private GrammarExpr Class()
    {
        _i++; // [
        bool negated = Peek('^');
        if (negated)
        {
            _i++;
        }
        var ranges = new List<(int, int)>();
        while (!Peek(']'))
        {
            if (AtEnd)
            {
                throw Error("unterminated character class");
            }
            int lo = Char();
            int hi = lo;
            if (Peek('-') && _i + 1 < _p.Length && _p[_i + 1] != ']')
            {
                _i++;
                hi = Char();
            }
            if (hi < lo)
            {
                throw Error("a character range runs backwards");
            }
            ranges.Add((lo, hi));
        }
        _i++;
        return Utf8Ranges.Expr(negated ? Utf8Ranges.Complement(ranges) : ranges);
    }

    /// <summary>One character of a literal or class, escapes decoded.</summary>
    private int Char()
    {
        int c = _p[_i++];
        if (c != '\\')
        {
            return c;
        }
        if (AtEnd)
        {
            throw Error("a '\\' ends the grammar");
        }
        int e = _p[_i++];
        return e switch
        {
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'x' => Hex(2),
            'u' => Hex(4),
            'U' => Hex(8),
            '\\' or '"' or '[' or ']' or '-' or '^' or '/' => e,
            _ => throw Error($"unknown escape '\\{char.ConvertFromUtf32(e)}'"),
        };
    }

    private int Hex(int digits)
    {
        if (_i + digits > _p.Length)
        {
            throw Error("a hex escape is cut short");
        }
        string s = string.Concat(_p[_i..(_i + digits)].Select(char.ConvertFromUtf32));
        if (!int.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v) || v > Utf8Ranges.MaxScalar || v is >= 0xD800 and <= 0xDFFF)
        {
            throw Error($"'{s}' is not a character's hex code");
        }
        _i += digits;
        return v;
    }

    private string? Name()
    {
        int start = _i;
        while (!AtEnd && (_p[_i] is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_'))
        {
            _i++;
        }
        return _i == start ? null : string.Concat(_p[start.._i].Select(char.ConvertFromUtf32));
    }

    private int? Number()
    {
        int start = _i;
        while (!AtEnd && _p[_i] is >= '0' and <= '9')
        {
            _i++;
        }
        return _i == start ? null : int.Parse(string.Concat(_p[start.._i].Select(char.ConvertFromUtf32)), CultureInfo.InvariantCulture);
    }

    /// <summary>Skips spaces, tabs and comments, and newlines too when <paramref name="newlines"/>.</summary>
    private void SkipSpace(bool newlines)
    {
        while (!AtEnd)
        {
            int c = _p[_i];
            if (c == '#')
            {
                while (!AtEnd && _p[_i] != '\n')
                {
                    _i++;
                }
            }
            else if (c is ' ' or '\t' || (newlines && c is '\n' or '\r'))
            {
                _i++;
            }
            else
            {
                break;
            }
        }
    }

    private GrammarException Error(string what)
    {
        int line = 1 + _p.Take(Math.Min(_i, _p.Length)).Count(c => c == '\n');
        return new GrammarException($"{what} (GBNF line {line})");
    }
}
