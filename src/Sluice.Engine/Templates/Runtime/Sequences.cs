using System.Text;

namespace Sluice.Engine.Templates.Runtime;

/// <summary>Iteration, length, indexing and slicing with Python's rules; strings count code points, not UTF-16 units.</summary>
internal static class Sequences
{
    /// <summary>The items a for loop or filter walks: list items, dict keys, characters; nothing for undefined.</summary>
    public static IReadOnlyList<Value> Iterate(Value value) => value switch
    {
        ListValue list => [.. list.Items],
        DictValue dict => [.. dict.Items.Keys],
        StringValue text => [.. CodePoints(text.Value).Select(c => new StringValue(c))],
        UndefinedValue => [],
        _ => throw Errors.Runtime($"'{value.TypeName}' object is not iterable"),
    };

    public static long Length(Value value) => value switch
    {
        StringValue text => CodePointCount(text.Value),
        ListValue list => list.Items.Count,
        DictValue dict => dict.Items.Count,
        NamespaceValue ns => ns.Attributes.Count,
        UndefinedValue => 0,
        _ => throw Errors.Runtime($"object of type '{value.TypeName}' has no len()"),
    };

    public static bool HasSurrogates(string text)
    {
        foreach (var c in text)
        {
            if (char.IsSurrogate(c))
            {
                return true;
            }
        }

        return false;
    }

    public static long CodePointCount(string text)
    {
        if (!HasSurrogates(text))
        {
            return text.Length;
        }

        var count = 0L;
        for (var i = 0; i < text.Length; i++)
        {
            if (!(char.IsLowSurrogate(text[i]) && i > 0 && char.IsHighSurrogate(text[i - 1])))
            {
                count++;
            }
        }

        return count;
    }

    public static List<string> CodePoints(string text)
    {
        var points = new List<string>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                points.Add(text.Substring(i, 2));
                i++;
            }
            else
            {
                points.Add(text[i].ToString());
            }
        }

        return points;
    }

    /// <summary><c>target[index]</c> for integer indexes (negative from the end); undefined when out of range.</summary>
    public static Value Index(Value target, long index)
    {
        switch (target)
        {
            case ListValue list:
                var i = index < 0 ? index + list.Items.Count : index;
                return i >= 0 && i < list.Items.Count
                    ? list.Items[(int)i]
                    : new UndefinedValue($"{list.TypeName} object has no element {index}");
            case StringValue text:
                var points = HasSurrogates(text.Value) ? CodePoints(text.Value) : null;
                var length = points?.Count ?? text.Value.Length;
                var k = index < 0 ? index + length : index;
                if (k < 0 || k >= length)
                {
                    return new UndefinedValue($"str object has no element {index}");
                }

                return new StringValue(points is null ? text.Value[(int)k].ToString() : points[(int)k]);
            default:
                return new UndefinedValue($"{target.TypeName} object has no element {index}");
        }
    }

    /// <summary>Python slicing, <c>xs[start:stop:step]</c>, of lists, tuples and strings.</summary>
    public static Value Slice(Value target, long? start, long? stop, long? step)
    {
        switch (target)
        {
            case UndefinedValue u:
                throw u.Error();
            case ListValue list:
                return new ListValue([.. SliceIndices(list.Items.Count, start, stop, step).Select(i => list.Items[i])], list.IsTuple);
            case StringValue text:
                var points = HasSurrogates(text.Value) ? CodePoints(text.Value) : null;
                var length = points?.Count ?? text.Value.Length;
                var indices = SliceIndices(length, start, stop, step);
                if (points is null && (step ?? 1) == 1)
                {
                    return new StringValue(indices.Count == 0 ? "" : text.Value.Substring(indices[0], indices.Count));
                }

                var builder = new StringBuilder();
                foreach (var i in indices)
                {
                    builder.Append(points is null ? text.Value[i].ToString() : points[i]);
                }

                return new StringValue(builder.ToString());
            default:
                return new UndefinedValue($"'{target.TypeName}' object is not subscriptable");
        }
    }

    private static List<int> SliceIndices(int length, long? start, long? stop, long? step)
    {
        var s = step ?? 1;
        if (s == 0)
        {
            throw Errors.Runtime("slice step cannot be zero");
        }

        long lower = s > 0 ? 0 : -1;
        long upper = s > 0 ? length : length - 1;
        long Clamp(long? bound, long fallback)
        {
            if (bound is not { } b)
            {
                return fallback;
            }

            if (b < 0)
            {
                b += length;
                return b < lower ? lower : b;
            }

            return b > upper ? upper : b;
        }

        var from = Clamp(start, s > 0 ? lower : upper);
        var to = Clamp(stop, s > 0 ? upper : lower);
        var indices = new List<int>();
        for (var i = from; s > 0 ? i < to : i > to; i += s)
        {
            indices.Add((int)i);
        }

        return indices;
    }
}
