using System.Globalization;
using System.Text;
using Sluice.Engine.Templates.Runtime;

namespace Sluice.Engine.Templates.Builtins;

/// <summary>
/// Python's <c>json.dumps</c>, byte for byte, since prompts embed its output: <c>", "</c> and <c>": "</c>
/// separators (<c>","</c> between items when indenting), floats as Python's repr, non-ASCII kept unless
/// <c>ensure_ascii</c>, and only control characters, quotes and backslashes escaped.
/// </summary>
internal static class PyJson
{
    public sealed record Options(bool EnsureAscii, string? Indent, string ItemSeparator, string KeySeparator, bool SortKeys);

    public static string Dumps(RenderState state, Value value, Options options)
    {
        var builder = new StringBuilder();
        Write(state, builder, value, options, 0);
        return builder.ToString();
    }

    private static void Write(RenderState state, StringBuilder builder, Value value, Options options, int depth)
    {
        state.CheckValueDepth(depth);
        state.CheckStringLength(builder.Length);
        switch (value)
        {
            case NoneValue:
                builder.Append("null");
                break;
            case BoolValue b:
                builder.Append(b.Value ? "true" : "false");
                break;
            case IntValue i:
                builder.Append(i.Value.ToString(CultureInfo.InvariantCulture));
                break;
            case FloatValue f:
                builder.Append(FloatText(f.Value));
                break;
            case StringValue s:
                WriteString(builder, s.Value, options.EnsureAscii);
                break;
            case ListValue list:
                WriteContainer(state, builder, '[', ']', list.Items.Select(v => ((Value?)null, v)).ToList(), options, depth);
                break;
            case DictValue dict:
                var pairs = dict.Items.Select(p => ((Value?)p.Key, p.Value)).ToList();
                if (options.SortKeys)
                {
                    pairs = [.. pairs.OrderBy(p => p.Item1!, Comparer<Value>.Create((a, b) => Comparison.Compare(a, b, "<")))];
                }

                WriteContainer(state, builder, '{', '}', pairs, options, depth);
                break;
            case UndefinedValue u:
                throw Errors.Runtime($"Object of type Undefined is not JSON serializable ({u.Hint})");
            default:
                throw Errors.Runtime($"Object of type {value.TypeName} is not JSON serializable");
        }
    }

    private static void WriteContainer(RenderState state, StringBuilder builder, char open, char close, List<(Value? Key, Value Value)> items, Options options, int depth)
    {
        builder.Append(open);
        if (items.Count == 0)
        {
            builder.Append(close);
            return;
        }

        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                builder.Append(options.ItemSeparator);
            }

            NewLine(builder, options, depth + 1);
            if (items[i].Key is { } key)
            {
                WriteString(builder, KeyText(key), options.EnsureAscii);
                builder.Append(options.KeySeparator);
            }

            Write(state, builder, items[i].Value, options, depth + 1);
        }

        NewLine(builder, options, depth);
        builder.Append(close);
    }

    private static void NewLine(StringBuilder builder, Options options, int depth)
    {
        if (options.Indent is null)
        {
            return;
        }

        builder.Append('\n');
        for (var i = 0; i < depth; i++)
        {
            builder.Append(options.Indent);
        }
    }

    /// <summary>Python turns non-string keys into strings: <c>true</c>, <c>null</c>, numbers as written.</summary>
    private static string KeyText(Value key) => key switch
    {
        StringValue s => s.Value,
        BoolValue b => b.Value ? "true" : "false",
        NoneValue => "null",
        IntValue i => i.Value.ToString(CultureInfo.InvariantCulture),
        FloatValue f => FloatText(f.Value),
        _ => throw Errors.Runtime($"keys must be str, int, float, bool or None, not {key.TypeName}"),
    };

    private static string FloatText(double value) =>
        double.IsNaN(value) ? "NaN" : double.IsPositiveInfinity(value) ? "Infinity" : double.IsNegativeInfinity(value) ? "-Infinity" : PyText.FloatRepr(value);

    private static void WriteString(StringBuilder builder, string text, bool ensureAscii)
    {
        builder.Append('"');
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                default:
                    if (c < ' ' || (ensureAscii && c > '~'))
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

        builder.Append('"');
    }
}
