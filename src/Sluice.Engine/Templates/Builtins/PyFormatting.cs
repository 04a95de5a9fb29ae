using System.Globalization;
using System.Text;
using Sluice.Engine.Templates.Runtime;

namespace Sluice.Engine.Templates.Builtins;

/// <summary>
/// Python's two string formatting styles as far as templates use them: <c>'%s: %.2f' % (a, b)</c> (and the
/// <c>format</c> filter, which is the same operation) and <c>'{} {name:&gt;8}'.format(...)</c>.
/// </summary>
internal static class PyFormatting
{
    /// <summary>Python's <c>float(text)</c> on trimmed text: decimal or exponent forms, <c>inf</c>, <c>nan</c>, underscores between digits.</summary>
    public static bool TryParseFloat(string text, out double value)
    {
        var lower = text.ToLowerInvariant().TrimStart('+');
        var negative = lower.StartsWith('-');
        var unsigned = negative ? lower[1..] : lower;
        if (unsigned is "inf" or "infinity" or "nan")
        {
            value = unsigned == "nan" ? double.NaN : negative ? double.NegativeInfinity : double.PositiveInfinity;
            return true;
        }

        return double.TryParse(
            text.Replace("_", "", StringComparison.Ordinal),
            NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
            CultureInfo.InvariantCulture,
            out value) && !text.Contains("__", StringComparison.Ordinal);
    }

    /// <summary><c>format % arguments</c>; a tuple supplies several arguments, a dict named ones.</summary>
    public static string Percent(RenderState state, string format, Value arguments)
    {
        var positional = arguments is ListValue { IsTuple: true } tuple ? tuple.Items : [arguments];
        var mapping = arguments as DictValue;
        var next = 0;
        var usedMapping = false;
        var builder = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%')
            {
                builder.Append(format[i]);
                continue;
            }

            if (++i >= format.Length)
            {
                throw Errors.Runtime("incomplete format");
            }

            if (format[i] == '%')
            {
                builder.Append('%');
                continue;
            }

            Value? value = null;
            if (format[i] == '(')
            {
                var close = format.IndexOf(')', i);
                if (close < 0 || mapping is null)
                {
                    throw Errors.Runtime("format requires a mapping");
                }

                value = mapping.TryGet(format[(i + 1)..close], out var found) ? found : throw Errors.Runtime($"KeyError: '{format[(i + 1)..close]}'");
                usedMapping = true;
                i = close + 1;
            }

            var spec = new Spec();
            for (; i < format.Length && format[i] is '-' or '+' or ' ' or '0' or '#'; i++)
            {
                switch (format[i])
                {
                    case '-': spec.Align = '<'; break;
                    case '+': spec.Sign = '+'; break;
                    case ' ': spec.Sign = spec.Sign == '+' ? '+' : ' '; break;
                    case '0': spec.ZeroPad = true; break;
                    default: spec.Alternate = true; break;
                }
            }

            spec.Width = ReadNumber(format, ref i);
            if (i < format.Length && format[i] == '.')
            {
                i++;
                spec.Precision = ReadNumber(format, ref i) ?? 0;
            }

            while (i < format.Length && format[i] is 'h' or 'l' or 'L')
            {
                i++;
            }

            if (i >= format.Length)
            {
                throw Errors.Runtime("incomplete format");
            }

            spec.Type = format[i];
            if (value is null)
            {
                value = next < positional.Count ? positional[next++] : throw Errors.Runtime("not enough arguments for format string");
            }

            spec.DefaultAlign = '>';
            state.CheckStringLength(builder.Length);
            builder.Append(spec.Type switch
            {
                's' => spec.Pad(Truncate(PyText.Str(value), spec.Precision), numeric: false),
                'r' or 'a' => spec.Pad(Truncate(PyText.Repr(value), spec.Precision), numeric: false),
                'c' => spec.Pad(value is StringValue c ? c.Value : char.ConvertFromUtf32((int)Integer(value)), numeric: false),
                'i' or 'u' => FormatNumber(value, spec with { Type = 'd' }),
                _ => FormatNumber(value, spec),
            });
        }

        state.CheckStringLength(builder.Length);
        if (!usedMapping && mapping is null && next < positional.Count)
        {
            throw Errors.Runtime("not all arguments converted during string formatting");
        }

        return builder.ToString();
    }

    /// <summary><c>str.format</c>: <c>{}</c>, <c>{0}</c>, <c>{name}</c>, <c>{name.attr}</c>, <c>{0[key]}</c>, <c>!r</c>/<c>!s</c> and a format spec.</summary>
    public static string Format(RenderState state, string format, Arguments arguments)
    {
        var builder = new StringBuilder();
        var auto = 0;
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if (c == '}')
            {
                if (i + 1 < format.Length && format[i + 1] == '}')
                {
                    i++;
                }

                builder.Append('}');
                continue;
            }

            if (c != '{')
            {
                builder.Append(c);
                continue;
            }

            if (i + 1 < format.Length && format[i + 1] == '{')
            {
                builder.Append('{');
                i++;
                continue;
            }

            var close = format.IndexOf('}', i);
            if (close < 0)
            {
                throw Errors.Runtime("Single '{' encountered in format string");
            }

            var field = format[(i + 1)..close];
            i = close;
            var specAt = field.IndexOf(':', StringComparison.Ordinal);
            var specText = specAt >= 0 ? field[(specAt + 1)..] : "";
            field = specAt >= 0 ? field[..specAt] : field;
            var conversion = '\0';
            if (field.Length >= 2 && field[^2] == '!')
            {
                conversion = field[^1];
                field = field[..^2];
            }

            var value = ResolveField(field, arguments, ref auto);
            if (conversion is 'r' or 'a')
            {
                value = new StringValue(PyText.Repr(value, state));
            }
            else if (conversion == 's')
            {
                value = new StringValue(PyText.Str(value, state));
            }

            builder.Append(ApplySpec(value, specText));
            state.CheckStringLength(builder.Length);
        }

        return builder.ToString();
    }

    private static Value ResolveField(string field, Arguments arguments, ref int auto)
    {
        var end = field.IndexOfAny(['.', '[']);
        var head = end >= 0 ? field[..end] : field;
        Value value;
        if (head.Length == 0)
        {
            value = auto < arguments.Positional.Count ? arguments.Positional[auto++] : throw Errors.Runtime("Replacement index out of range for positional args tuple");
        }
        else if (int.TryParse(head, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            value = index < arguments.Positional.Count ? arguments.Positional[index] : throw Errors.Runtime($"Replacement index {index} out of range for positional args tuple");
        }
        else
        {
            value = arguments.Named.FirstOrDefault(p => p.Key == head).Value ?? throw Errors.Runtime($"KeyError: '{head}'");
        }

        var rest = end >= 0 ? field[end..] : "";
        while (rest.Length > 0)
        {
            if (rest[0] == '.')
            {
                var next = rest.IndexOfAny(['.', '['], 1);
                var name = next >= 0 ? rest[1..next] : rest[1..];
                value = Access.Attribute(value, name);
                rest = next >= 0 ? rest[next..] : "";
            }
            else
            {
                var close = rest.IndexOf(']', StringComparison.Ordinal);
                var key = rest[1..close];
                value = Access.Item(value, long.TryParse(key, out var k) ? IntValue.Of(k) : new StringValue(key));
                rest = rest[(close + 1)..];
            }
        }

        return value;
    }

    /// <summary>The format spec mini-language: <c>[[fill]align][sign][#][0][width][,|_][.precision][type]</c>.</summary>
    private static string ApplySpec(Value value, string text)
    {
        var spec = new Spec { DefaultAlign = value is StringValue ? '<' : '>' };
        var i = 0;
        if (text.Length >= 2 && text[1] is '<' or '>' or '^' or '=')
        {
            (spec.Fill, spec.Align) = (text[0], text[1]);
            i = 2;
        }
        else if (text.Length >= 1 && text[0] is '<' or '>' or '^' or '=')
        {
            spec.Align = text[0];
            i = 1;
        }

        if (i < text.Length && text[i] is '+' or '-' or ' ')
        {
            spec.Sign = text[i++];
        }

        if (i < text.Length && text[i] == '#')
        {
            spec.Alternate = true;
            i++;
        }

        if (i < text.Length && text[i] == '0')
        {
            spec.ZeroPad = true;
            i++;
        }

        spec.Width = ReadNumber(text, ref i);
        if (i < text.Length && text[i] is ',' or '_')
        {
            spec.Grouping = text[i++];
        }

        if (i < text.Length && text[i] == '.')
        {
            i++;
            spec.Precision = ReadNumber(text, ref i) ?? 0;
        }

        spec.Type = i < text.Length ? text[i] : '\0';
        if (value is StringValue s)
        {
            return spec.Type is '\0' or 's' ? spec.Pad(Truncate(s.Value, spec.Precision), numeric: false) : throw Errors.Runtime($"Unknown format code '{spec.Type}' for object of type 'str'");
        }

        if (spec.Type == '\0')
        {
            if (value is FloatValue && spec.Precision is not null)
            {
                spec.Type = 'g';
            }
            else if (value is IntValue or BoolValue or FloatValue)
            {
                return spec.Pad(Group(PyText.Str(value is BoolValue b ? IntValue.Of(b.Value ? 1 : 0) : value), spec.Grouping), numeric: true);
            }
            else
            {
                return spec.Pad(PyText.Str(value), numeric: false);
            }
        }

        return FormatNumber(value, spec);
    }

    private static string FormatNumber(Value value, Spec spec)
    {
        if (!Comparison.TryNumber(value, out var integer, out var real, out var isFloat))
        {
            throw value is UndefinedValue u ? u.Error() : Errors.Runtime($"a number is required, not {value.TypeName}");
        }

        var negative = isFloat ? double.IsNegative(real) && !double.IsNaN(real) : integer < 0;
        var magnitude = Math.Abs(real);
        string digits;
        switch (spec.Type)
        {
            case 'd' or 'n':
                digits = Group(isFloat ? Math.Truncate(magnitude).ToString("F0", CultureInfo.InvariantCulture) : Math.Abs((decimal)integer).ToString(CultureInfo.InvariantCulture), spec.Grouping);
                break;
            case 'x' or 'X' or 'o' or 'b':
                var whole = isFloat ? throw Errors.Runtime($"Unknown format code '{spec.Type}' for object of type 'float'") : (ulong)Math.Abs((decimal)integer);
                digits = spec.Type switch
                {
                    'x' => whole.ToString("x", CultureInfo.InvariantCulture),
                    'X' => whole.ToString("X", CultureInfo.InvariantCulture),
                    'o' => Convert.ToString((long)whole, 8),
                    _ => Convert.ToString((long)whole, 2),
                };
                if (spec.Alternate)
                {
                    digits = (spec.Type switch { 'x' => "0x", 'X' => "0X", 'o' => "0o", _ => "0b" }) + digits;
                }

                break;
            case 'f' or 'F':
                digits = Group(Fixed(magnitude, spec.Precision ?? 6), spec.Grouping);
                break;
            case 'e' or 'E':
                digits = Scientific(magnitude, spec.Precision ?? 6, spec.Type);
                break;
            case 'g' or 'G':
                digits = General(magnitude, spec.Precision ?? 6, spec.Type, spec.Alternate);
                break;
            case '%':
                digits = Fixed(magnitude * 100, spec.Precision ?? 6) + "%";
                break;
            default:
                throw Errors.Runtime($"unsupported format character '{spec.Type}'");
        }

        if (double.IsInfinity(magnitude) || double.IsNaN(magnitude))
        {
            digits = double.IsNaN(magnitude) ? "nan" : "inf";
            digits = char.IsUpper(spec.Type) ? digits.ToUpperInvariant() : digits;
        }

        var sign = negative ? "-" : spec.Sign is '+' or ' ' ? spec.Sign.ToString() : "";
        return spec.Pad(digits, numeric: true, sign);
    }

    private static string Fixed(double value, int precision) =>
        value.ToString("F" + Math.Min(precision, 100).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static string Scientific(double value, int precision, char type)
    {
        var text = value.ToString((type == 'E' ? "E" : "e") + Math.Min(precision, 100).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var at = text.IndexOfAny(['e', 'E']);
        var exponent = int.Parse(text[(at + 1)..], CultureInfo.InvariantCulture);
        return $"{text[..(at + 1)]}{(exponent < 0 ? '-' : '+')}{Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture)}";
    }

    private static string General(double value, int precision, char type, bool keepZeros)
    {
        precision = precision == 0 ? 1 : precision;
        var exponent = value == 0 ? 0 : (int)Math.Floor(Math.Log10(value));
        var rounded = value == 0 ? "0" : Scientific(value, precision - 1, 'e');
        if (value != 0)
        {
            exponent = int.Parse(rounded[(rounded.IndexOf('e', StringComparison.Ordinal) + 1)..], CultureInfo.InvariantCulture);
        }

        string text;
        if (exponent >= -4 && exponent < precision)
        {
            text = Fixed(value, precision - 1 - exponent);
            if (!keepZeros && text.Contains('.', StringComparison.Ordinal))
            {
                text = text.TrimEnd('0').TrimEnd('.');
            }
        }
        else
        {
            text = Scientific(value, precision - 1, type == 'G' ? 'E' : 'e');
            if (!keepZeros)
            {
                var at = text.IndexOfAny(['e', 'E']);
                var mantissa = text[..at];
                if (mantissa.Contains('.', StringComparison.Ordinal))
                {
                    mantissa = mantissa.TrimEnd('0').TrimEnd('.');
                }

                text = mantissa + text[at..];
            }
        }

        return text;
    }

    private static string Group(string digits, char grouping)
    {
        if (grouping == '\0')
        {
            return digits;
        }

        var point = digits.IndexOf('.', StringComparison.Ordinal);
        var whole = point >= 0 ? digits[..point] : digits;
        var builder = new StringBuilder();
        for (var i = 0; i < whole.Length; i++)
        {
            if (i > 0 && (whole.Length - i) % 3 == 0)
            {
                builder.Append(grouping);
            }

            builder.Append(whole[i]);
        }

        return builder + (point >= 0 ? digits[point..] : "");
    }

    private static string Truncate(string text, int? precision) =>
        precision is { } p && p < text.Length ? text[..p] : text;

    private static long Integer(Value value) =>
        Comparison.TryNumber(value, out var integer, out _, out var isFloat) && !isFloat ? integer : throw Errors.Runtime("%c requires int or char");

    private static int? ReadNumber(string text, ref int i)
    {
        var start = i;
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            i++;
        }

        return i > start ? (int)Math.Min(int.Parse(text[start..i], CultureInfo.InvariantCulture), 10_000) : null;
    }

    private record struct Spec()
    {
        public char Fill { get; set; } = ' ';

        public char Align { get; set; }

        public char DefaultAlign { get; set; } = '>';

        public char Sign { get; set; }

        public bool Alternate { get; set; }

        public bool ZeroPad { get; set; }

        public int? Width { get; set; }

        public char Grouping { get; set; }

        public int? Precision { get; set; }

        public char Type { get; set; }

        public readonly string Pad(string body, bool numeric, string sign = "")
        {
            var width = Width ?? 0;
            var length = sign.Length + body.Length;
            if (length >= width)
            {
                return sign + body;
            }

            var padding = width - length;
            var align = Align != '\0' ? Align : numeric && ZeroPad ? '=' : DefaultAlign;
            var fill = Align == '\0' && numeric && ZeroPad ? '0' : Fill;
            return align switch
            {
                '<' => sign + body + new string(fill, padding),
                '^' => new string(fill, padding / 2) + sign + body + new string(fill, padding - (padding / 2)),
                '=' => sign + new string(fill, padding) + body,
                _ => new string(fill, padding) + sign + body,
            };
        }
    }
}
