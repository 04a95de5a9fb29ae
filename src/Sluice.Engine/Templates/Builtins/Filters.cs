using System.Collections.Frozen;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;
using Sluice.Engine.Templates.Runtime;

namespace Sluice.Engine.Templates.Builtins;

/// <summary>
/// Jinja's filters that chat templates use, with Jinja's semantics (e.g. <c>unique</c> and <c>sort</c> ignore
/// case by default, <c>round</c> rounds half to even like Python). <c>tojson</c> is HF's replacement:
/// Python's <c>json.dumps</c> with <c>ensure_ascii=False</c> and keys in insertion order unless
/// <c>sort_keys=true</c>. Collection filters are in <see cref="CollectionFilters"/>.
/// </summary>
internal static partial class Filters
{
    private static readonly FrozenDictionary<string, FilterFunction> All = new Dictionary<string, FilterFunction>
    {
        ["abs"] = Abs,
        ["attr"] = (_, v, a) => Access.Attribute(v, PyText.Str(a.Require(0, "name", "attr"))),
        ["center"] = Center,
        ["capitalize"] = (s, v, _) => new StringValue(Capitalize(PyText.Str(v, s))),
        ["count"] = (_, v, _) => IntValue.Of(Sequences.Length(v)),
        ["d"] = Default,
        ["default"] = Default,
        ["dictsort"] = CollectionFilters.DictSort,
        ["first"] = CollectionFilters.First,
        ["float"] = ToFloat,
        ["format"] = (s, v, a) => new StringValue(s.CheckString(PyFormatting.Percent(s, PyText.Str(v, s), new ListValue([.. a.Positional], isTuple: true)))),
        ["indent"] = Indent,
        ["int"] = ToInt,
        ["items"] = CollectionFilters.Items,
        ["join"] = CollectionFilters.Join,
        ["last"] = CollectionFilters.Last,
        ["length"] = (_, v, _) => IntValue.Of(Sequences.Length(v)),
        ["list"] = (_, v, _) => new ListValue([.. Sequences.Iterate(v)]),
        ["lower"] = (s, v, _) => new StringValue(PyText.Str(v, s).ToLowerInvariant()),
        ["map"] = CollectionFilters.Map,
        ["max"] = (s, v, a) => CollectionFilters.Extreme(s, v, a, largest: true),
        ["min"] = (s, v, a) => CollectionFilters.Extreme(s, v, a, largest: false),
        ["reject"] = (s, v, a) => CollectionFilters.Select(s, v, a, keep: false, byAttribute: false),
        ["rejectattr"] = (s, v, a) => CollectionFilters.Select(s, v, a, keep: false, byAttribute: true),
        ["replace"] = Replace,
        ["reverse"] = CollectionFilters.Reverse,
        ["round"] = Round,
        ["safe"] = (_, v, _) => v,
        ["select"] = (s, v, a) => CollectionFilters.Select(s, v, a, keep: true, byAttribute: false),
        ["selectattr"] = (s, v, a) => CollectionFilters.Select(s, v, a, keep: true, byAttribute: true),
        ["sort"] = CollectionFilters.Sort,
        ["string"] = (s, v, _) => v as StringValue ?? new StringValue(PyText.Str(v, s)),
        ["sum"] = CollectionFilters.Sum,
        ["title"] = (s, v, _) => new StringValue(Title(PyText.Str(v, s))),
        ["tojson"] = ToJson,
        ["trim"] = (s, v, a) => new StringValue(PyText.Strip(PyText.Str(v, s), OptionalString(s, a.Find(0, "chars")))),
        ["unique"] = CollectionFilters.Unique,
        ["upper"] = (s, v, _) => new StringValue(PyText.Str(v, s).ToUpperInvariant()),
        ["wordcount"] = (s, v, _) => IntValue.Of(WordPattern().Count(PyText.Str(v, s))),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static bool TryGet(string name, out FilterFunction function) => All.TryGetValue(name, out function!);

    internal static string? OptionalString(RenderState state, Value? value) =>
        value is null or NoneValue or UndefinedValue ? null : PyText.Str(value, state);

    internal static bool Flag(Value? value) => value is not null && value.IsTruthy;

    private static Value Abs(RenderState state, Value input, Arguments arguments) => input switch
    {
        IntValue i => i.Value < 0 ? Arithmetic.Negate(i) : i,
        BoolValue b => IntValue.Of(b.Value ? 1 : 0),
        FloatValue f => new FloatValue(Math.Abs(f.Value)),
        UndefinedValue u => throw u.Error(),
        _ => throw Errors.Runtime($"bad operand type for abs(): '{input.TypeName}'"),
    };

    private static Value Default(RenderState state, Value input, Arguments arguments)
    {
        var fallback = arguments.Get(0, "default_value", StringValue.Empty);
        var boolean = Flag(arguments.Find(1, "boolean"));
        return input is UndefinedValue || (boolean && !input.IsTruthy) ? fallback : input;
    }

    private static string Capitalize(string text) =>
        text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..].ToLowerInvariant();

    /// <summary>Jinja's <c>title</c>: upper-cases the first letter after spaces, hyphens and opening brackets.</summary>
    private static string Title(string text)
    {
        var builder = new StringBuilder(text.Length);
        var atWordStart = true;
        foreach (var c in text)
        {
            var isBoundary = PyText.IsSpace(c) || c is '-' or '(' or '{' or '[' or '<';
            builder.Append(isBoundary ? c : atWordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            atWordStart = isBoundary;
        }

        return builder.ToString();
    }

    private static Value Replace(RenderState state, Value input, Arguments arguments)
    {
        var text = PyText.Str(input, state);
        var old = PyText.Str(arguments.Require(0, "old", "replace"), state);
        var replacement = PyText.Str(arguments.Require(1, "new", "replace"), state);
        var countValue = arguments.Find(2, "count");
        var count = countValue is null or NoneValue ? -1 : ToLong(countValue, "replace");
        return new StringValue(state.CheckString(PyReplace(state, text, old, replacement, count)));
    }

    /// <summary>Python's <c>str.replace</c>, including an empty <paramref name="old"/> (insert between characters).</summary>
    internal static string PyReplace(RenderState state, string text, string old, string replacement, long count)
    {
        if (count < 0)
        {
            count = long.MaxValue;
        }

        var builder = new StringBuilder();
        if (old.Length == 0)
        {
            var points = Sequences.CodePoints(text);
            for (var i = 0; i <= points.Count; i++)
            {
                if (i < count)
                {
                    builder.Append(replacement);
                }

                if (i < points.Count)
                {
                    builder.Append(points[i]);
                }

                state.CheckStringLength(builder.Length);
            }

            return builder.ToString();
        }

        var position = 0;
        for (var done = 0L; done < count; done++)
        {
            var found = text.IndexOf(old, position, StringComparison.Ordinal);
            if (found < 0)
            {
                break;
            }

            builder.Append(text, position, found - position).Append(replacement);
            state.CheckStringLength(builder.Length);
            position = found + old.Length;
        }

        return builder.Append(text, position, text.Length - position).ToString();
    }

    /// <summary>Jinja's <c>indent(width=4, first=False, blank=False)</c>: indents every line but the first (unless <c>first</c>) and blank lines (unless <c>blank</c>).</summary>
    private static Value Indent(RenderState state, Value input, Arguments arguments)
    {
        var widthValue = arguments.Get(0, "width", IntValue.Of(4));
        var indentation = widthValue is StringValue s ? s.Value : new string(' ', (int)Math.Clamp(ToLong(widthValue, "indent"), 0, 1024));
        var first = Flag(arguments.Find(1, "first"));
        var blank = Flag(arguments.Find(2, "blank"));
        var lines = SplitLines(PyText.Str(input, state) + "\n");
        var builder = new StringBuilder();
        for (var i = 0; i < lines.Count; i++)
        {
            if (i > 0)
            {
                builder.Append('\n');
            }

            if ((i > 0 || first) && (blank || lines[i].Length > 0))
            {
                builder.Append(indentation);
            }

            builder.Append(lines[i]);
            state.CheckStringLength(builder.Length);
        }

        return new StringValue(builder.ToString());
    }

    /// <summary>Python's <c>str.splitlines()</c> (without keepends).</summary>
    internal static List<string> SplitLines(string text)
    {
        var lines = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                lines.Add(text[start..i]);
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
                {
                    i++;
                }

                start = i + 1;
            }
        }

        if (start < text.Length)
        {
            lines.Add(text[start..]);
        }

        return lines;
    }

    private static Value Round(RenderState state, Value input, Arguments arguments)
    {
        var precision = (int)Math.Clamp(ToLong(arguments.Get(0, "precision", IntValue.Of(0)), "round"), -15, 15);
        var method = PyText.Str(arguments.Get(1, "method", new StringValue("common")), state);
        if (!Comparison.TryNumber(input, out _, out var value, out var isFloat))
        {
            throw input is UndefinedValue u ? u.Error() : Errors.Runtime($"round() needs a number, not {input.TypeName}");
        }

        var scale = Math.Pow(10, precision);
        return method switch
        {
            "common" when !isFloat && precision >= 0 => input is BoolValue ? IntValue.Of((long)value) : input,
            "common" => new FloatValue(PyRound(value, precision)),
            "ceil" => new FloatValue(Math.Ceiling(value * scale) / scale),
            "floor" => new FloatValue(Math.Floor(value * scale) / scale),
            _ => throw Errors.Runtime("method must be common, ceil or floor"),
        };
    }

    /// <summary>
    /// Python's <c>round(x, digits)</c>: half to even on the exact binary value, so <c>round(2.675, 2)</c> is
    /// 2.67 (the double is a little below 2.675), which scaling by 100 in floating point gets wrong.
    /// </summary>
    internal static double PyRound(double value, int digits)
    {
        if (!double.IsFinite(value) || value == 0)
        {
            return value;
        }

        var bits = BitConverter.DoubleToInt64Bits(value);
        var exponent = (int)((bits >> 52) & 0x7FF);
        var mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0)
        {
            exponent = 1;
        }
        else
        {
            mantissa |= 1L << 52;
        }

        exponent -= 1075;
        BigInteger numerator = mantissa;
        BigInteger denominator = BigInteger.One;
        if (exponent > 0)
        {
            numerator <<= exponent;
        }
        else
        {
            denominator <<= -exponent;
        }

        if (digits >= 0)
        {
            numerator *= BigInteger.Pow(10, digits);
        }
        else
        {
            denominator *= BigInteger.Pow(10, -digits);
        }

        var quotient = BigInteger.DivRem(numerator, denominator, out var remainder);
        var twice = remainder * 2;
        if (twice > denominator || (twice == denominator && !quotient.IsEven))
        {
            quotient += 1;
        }

        var text = quotient.ToString(CultureInfo.InvariantCulture) + "e" + (-digits).ToString(CultureInfo.InvariantCulture);
        var result = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return value < 0 ? -result : result;
    }

    /// <summary>Python's <c>str.center</c>, which puts the odd padding character on the left when the width is odd.</summary>
    private static Value Center(RenderState state, Value input, Arguments arguments)
    {
        var text = PyText.Str(input, state);
        var width = (int)Math.Clamp(ToLong(arguments.Get(0, "width", IntValue.Of(80)), "center"), 0, state.Limits.MaxOutputLength);
        var margin = width - text.Length;
        if (margin <= 0)
        {
            return new StringValue(text);
        }

        var left = (margin / 2) + (margin & width & 1);
        return new StringValue(new string(' ', left) + text + new string(' ', margin - left));
    }

    private static Value ToInt(RenderState state, Value input, Arguments arguments)
    {
        var fallback = arguments.Get(0, "default", IntValue.Of(0));
        var radix = (int)ToLong(arguments.Get(1, "base", IntValue.Of(10)), "int");
        switch (input)
        {
            case IntValue:
                return input;
            case BoolValue b:
                return IntValue.Of(b.Value ? 1 : 0);
            case FloatValue f when double.IsFinite(f.Value) && Math.Abs(f.Value) < 9.2e18:
                return IntValue.Of((long)Math.Truncate(f.Value));
            case StringValue s:
                var text = s.Value.Trim().Replace("_", "", StringComparison.Ordinal);
                if (radix == 10 && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
                {
                    return IntValue.Of(parsed);
                }

                if (radix != 10 && TryParseRadix(text, radix, out parsed))
                {
                    return IntValue.Of(parsed);
                }

                if (PyFormatting.TryParseFloat(text, out var real) && double.IsFinite(real) && Math.Abs(real) < 9.2e18)
                {
                    return IntValue.Of((long)Math.Truncate(real));
                }

                return fallback;
            default:
                return fallback;
        }
    }

    private static bool TryParseRadix(string text, int radix, out long value)
    {
        value = 0;
        var negative = text.StartsWith('-');
        if (negative || text.StartsWith('+'))
        {
            text = text[1..];
        }

        var lower = text.ToLowerInvariant();
        if ((radix == 16 && lower.StartsWith("0x", StringComparison.Ordinal)) || (radix == 8 && lower.StartsWith("0o", StringComparison.Ordinal)) || (radix == 2 && lower.StartsWith("0b", StringComparison.Ordinal)))
        {
            lower = lower[2..];
        }

        if (lower.Length == 0 || radix is < 2 or > 36)
        {
            return false;
        }

        try
        {
            foreach (var c in lower)
            {
                var digit = char.IsAsciiDigit(c) ? c - '0' : char.IsAsciiLetterLower(c) ? c - 'a' + 10 : 99;
                if (digit >= radix)
                {
                    return false;
                }

                value = checked((value * radix) + digit);
            }
        }
        catch (OverflowException)
        {
            return false;
        }

        value = negative ? -value : value;
        return true;
    }

    private static Value ToFloat(RenderState state, Value input, Arguments arguments)
    {
        var fallback = arguments.Get(0, "default", new FloatValue(0));
        return input switch
        {
            FloatValue => input,
            IntValue i => new FloatValue(i.Value),
            BoolValue b => new FloatValue(b.Value ? 1 : 0),
            StringValue s when PyFormatting.TryParseFloat(s.Value.Trim(), out var value) => new FloatValue(value),
            _ => fallback,
        };
    }

    /// <summary>HF's <c>tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)</c>.</summary>
    private static Value ToJson(RenderState state, Value input, Arguments arguments)
    {
        var ensureAscii = Flag(arguments.Find(0, "ensure_ascii"));
        var indentValue = arguments.Find(1, "indent");
        string? indent = indentValue switch
        {
            null or NoneValue => null,
            StringValue s => s.Value,
            _ => new string(' ', (int)Math.Clamp(ToLong(indentValue, "tojson"), 0, 1024)),
        };
        string? itemSeparator = null;
        string? keySeparator = null;
        if (arguments.Find(2, "separators") is ListValue { Items.Count: 2 } separators)
        {
            itemSeparator = PyText.Str(separators.Items[0], state);
            keySeparator = PyText.Str(separators.Items[1], state);
        }

        var sortKeys = Flag(arguments.Find(3, "sort_keys"));
        var options = new PyJson.Options(ensureAscii, indent, itemSeparator ?? (indent is null ? ", " : ","), keySeparator ?? ": ", sortKeys);
        return new StringValue(PyJson.Dumps(state, input, options));
    }

    internal static long ToLong(Value value, string function) => value switch
    {
        IntValue i => i.Value,
        BoolValue b => b.Value ? 1 : 0,
        UndefinedValue u => throw u.Error(),
        _ => throw Errors.Runtime($"{function}() expected an integer, got {value.TypeName}"),
    };

    [GeneratedRegex(@"\w+")]
    private static partial Regex WordPattern();
}
