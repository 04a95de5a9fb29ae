using System.Globalization;
using System.Text;

namespace Sluice.Engine.Templates.Runtime;

/// <summary>
/// Python's text forms of values: <c>str()</c>, which <c>{{ x }}</c> prints, and <c>repr()</c>, which
/// <c>str()</c> of a list or dict uses for the items. Templates rely on these, e.g. <c>True</c>, <c>None</c>,
/// <c>['a', 1]</c>, <c>1.0</c>.
/// </summary>
internal static class PyText
{
    /// <summary>Walks nested values no deeper than this when no render state supplies the limit.</summary>
    private const int DefaultMaxDepth = 64;

    /// <summary>Python's <c>str.isspace</c> for one UTF-16 unit; includes the \x1c-\x1f separators .NET leaves out.</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    public static string TrimEnd(string text)
    {
        var end = text.Length;
        while (end > 0 && IsSpace(text[end - 1]))
        {
            end--;
        }

        return text[..end];
    }

    /// <summary>Python's <c>strip</c>/<c>lstrip</c>/<c>rstrip</c>: whitespace, or any of <paramref name="chars"/> when given.</summary>
    public static string Strip(string text, string? chars, bool left = true, bool right = true)
    {
        bool Strippable(char c) => chars is null ? IsSpace(c) : chars.Contains(c, StringComparison.Ordinal);
        var start = 0;
        var end = text.Length;
        while (left && start < end && Strippable(text[start]))
        {
            start++;
        }

        while (right && end > start && Strippable(text[end - 1]))
        {
            end--;
        }

        return text[start..end];
    }

    public static string Str(Value value, RenderState? state = null) => value switch
    {
        StringValue s => s.Value,
        UndefinedValue => "",
        _ => Repr(value, state),
    };

    public static string Repr(Value value, RenderState? state = null)
    {
        var builder = new StringBuilder();
        AppendRepr(builder, value, state, 0);
        return builder.ToString();
    }

    private static void AppendRepr(StringBuilder builder, Value value, RenderState? state, int depth)
    {
        if (state is not null)
        {
            state.CheckValueDepth(depth);
            state.CheckStringLength(builder.Length);
        }
        else if (depth > DefaultMaxDepth)
        {
            throw Errors.Limit($"value nested deeper than {DefaultMaxDepth} levels (is it cyclic?)");
        }

        switch (value)
        {
            case StringValue s:
                AppendStringRepr(builder, s.Value);
                break;
            case IntValue i:
                builder.Append(i.Value.ToString(CultureInfo.InvariantCulture));
                break;
            case FloatValue f:
                builder.Append(FloatRepr(f.Value));
                break;
            case BoolValue b:
                builder.Append(b.Value ? "True" : "False");
                break;
            case NoneValue:
                builder.Append("None");
                break;
            case UndefinedValue:
                builder.Append("Undefined");
                break;
            case ListValue list:
                builder.Append(list.IsTuple ? '(' : '[');
                for (var k = 0; k < list.Items.Count; k++)
                {
                    if (k > 0)
                    {
                        builder.Append(", ");
                    }

                    AppendRepr(builder, list.Items[k], state, depth + 1);
                }

                if (list.IsTuple && list.Items.Count == 1)
                {
                    builder.Append(',');
                }

                builder.Append(list.IsTuple ? ')' : ']');
                break;
            case DictValue dict:
                AppendPairs(builder, dict.Items.Select(p => (p.Key, p.Value)), state, depth);
                break;
            case NamespaceValue ns:
                builder.Append("<Namespace ");
                AppendPairs(builder, ns.Attributes.Select(p => ((Value)new StringValue(p.Key), p.Value)), state, depth);
                builder.Append('>');
                break;
            case CallableValue callable:
                builder.Append("<function ").Append(callable.Name).Append('>');
                break;
            default:
                builder.Append('<').Append(value.TypeName).Append('>');
                break;
        }
    }

    private static void AppendPairs(StringBuilder builder, IEnumerable<(Value Key, Value Value)> pairs, RenderState? state, int depth)
    {
        builder.Append('{');
        var first = true;
        foreach (var (key, item) in pairs)
        {
            if (!first)
            {
                builder.Append(", ");
            }

            first = false;
            AppendRepr(builder, key, state, depth + 1);
            builder.Append(": ");
            AppendRepr(builder, item, state, depth + 1);
        }

        builder.Append('}');
    }

    /// <summary>Python's string repr: single quotes unless the text has a single quote and no double quote.</summary>
    public static void AppendStringRepr(StringBuilder builder, string text)
    {
        var quote = text.Contains('\'', StringComparison.Ordinal) && !text.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        builder.Append(quote);
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (c == quote)
                    {
                        builder.Append('\\').Append(c);
                    }
                    else if (c < ' ' || c is >= '\x7f' and <= '\xa0' || c == '\xad')
                    {
                        builder.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else if (c is '\u2028' or '\u2029')
                    {
                        builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        builder.Append(quote);
    }

    /// <summary>
    /// Python's float repr: the shortest digits that round-trip, positional for decimal exponents in
    /// [-4, 16) with at least one fractional digit ("1.0"), scientific otherwise ("1e-05", "1.5e+16").
    /// </summary>
    public static string FloatRepr(double value)
    {
        if (double.IsNaN(value))
        {
            return "nan";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "inf" : "-inf";
        }

        if (value == 0)
        {
            return double.IsNegative(value) ? "-0.0" : "0.0";
        }

        var (digits, exponent) = ShortestDigits(Math.Abs(value));
        var sign = value < 0 ? "-" : "";
        if (exponent is >= -4 and < 16)
        {
            if (exponent < 0)
            {
                return $"{sign}0.{new string('0', -exponent - 1)}{digits}";
            }

            var integerPart = digits.Length > exponent + 1 ? digits[..(exponent + 1)] : digits.PadRight(exponent + 1, '0');
            var fraction = digits.Length > exponent + 1 ? digits[(exponent + 1)..] : "0";
            return $"{sign}{integerPart}.{fraction}";
        }

        var mantissa = digits.Length > 1 ? $"{digits[0]}.{digits[1..]}" : digits;
        var exponentText = Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);
        return $"{sign}{mantissa}e{(exponent < 0 ? '-' : '+')}{exponentText}";
    }

    /// <summary>The significant digits of .NET's shortest round-trip form and the decimal exponent of the first.</summary>
    private static (string Digits, int Exponent) ShortestDigits(double positive)
    {
        var shortest = positive.ToString("R", CultureInfo.InvariantCulture);
        var exponentAt = shortest.IndexOfAny(['E', 'e']);
        var mantissa = exponentAt >= 0 ? shortest[..exponentAt] : shortest;
        var exponent = exponentAt >= 0 ? int.Parse(shortest[(exponentAt + 1)..], CultureInfo.InvariantCulture) : 0;
        var point = mantissa.IndexOf('.', StringComparison.Ordinal);
        var integerDigits = point >= 0 ? point : mantissa.Length;
        var allDigits = mantissa.Replace(".", "", StringComparison.Ordinal);
        var leadingZeros = allDigits.Length - allDigits.TrimStart('0').Length;
        var digits = allDigits.Trim('0');
        return (digits.Length == 0 ? "0" : digits, exponent + integerDigits - 1 - leadingZeros);
    }
}
