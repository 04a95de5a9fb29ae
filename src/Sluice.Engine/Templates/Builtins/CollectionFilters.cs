using System.Text;
using Sluice.Engine.Templates.Runtime;

namespace Sluice.Engine.Templates.Builtins;

/// <summary>The filters over sequences: select/reject, map, sort, unique, join, first/last, items, ...</summary>
internal static class CollectionFilters
{
    public static Value First(RenderState state, Value input, Arguments arguments)
    {
        var items = Sequences.Iterate(input);
        return items.Count > 0 ? items[0] : new UndefinedValue("No first item, sequence was empty.");
    }

    public static Value Last(RenderState state, Value input, Arguments arguments)
    {
        var items = Sequences.Iterate(input);
        return items.Count > 0 ? items[^1] : new UndefinedValue("No last item, sequence was empty.");
    }

    public static Value Items(RenderState state, Value input, Arguments arguments) => input switch
    {
        DictValue dict => new ListValue([.. dict.Items.Select(p => ListValue.Tuple(p.Key, p.Value))]),
        UndefinedValue => new ListValue([]),
        _ => throw Errors.Runtime("Can only get item pairs from a mapping."),
    };

    public static Value DictSort(RenderState state, Value input, Arguments arguments)
    {
        if (input is not DictValue dict)
        {
            throw Errors.Runtime("dictsort needs a mapping");
        }

        var caseSensitive = Filters.Flag(arguments.Find(0, "case_sensitive"));
        var byValue = Filters.OptionalString(state, arguments.Find(1, "by")) == "value";
        var reverse = Filters.Flag(arguments.Find(2, "reverse"));
        var pairs = dict.Items.Select(p => ListValue.Tuple(p.Key, p.Value)).ToList();
        return new ListValue([.. SortBy(pairs, p => SortKey(p.Items[byValue ? 1 : 0], caseSensitive), reverse)]);
    }

    public static Value Join(RenderState state, Value input, Arguments arguments)
    {
        var separator = PyText.Str(arguments.Get(0, "d", StringValue.Empty), state);
        var attribute = Filters.OptionalString(state, arguments.Find(1, "attribute"));
        var builder = new StringBuilder();
        var first = true;
        foreach (var item in Sequences.Iterate(input))
        {
            if (!first)
            {
                builder.Append(separator);
            }

            first = false;
            builder.Append(PyText.Str(attribute is null ? item : AttributePath(item, attribute), state));
            state.CheckStringLength(builder.Length);
        }

        return new StringValue(builder.ToString());
    }

    /// <summary><c>map(attribute='a.b', default=x)</c>, or <c>map('filter', args...)</c>.</summary>
    public static Value Map(RenderState state, Value input, Arguments arguments)
    {
        var items = Sequences.Iterate(input);
        if (Filters.OptionalString(state, arguments.Find(-1, "attribute")) is { } attribute)
        {
            var fallback = arguments.Find(-1, "default");
            return new ListValue([.. items.Select(item =>
            {
                var value = AttributePath(item, attribute);
                return value is UndefinedValue && fallback is not null ? fallback : value;
            })]);
        }

        var name = Filters.OptionalString(state, arguments.Find(0, "name"))
            ?? throw Errors.Runtime("map() needs a filter name or attribute=");
        if (!Filters.TryGet(name, out var filter))
        {
            throw Errors.Runtime($"No filter named '{name}'.");
        }

        var rest = arguments.Skip(1);
        return new ListValue([.. items.Select(item => filter(state, item, rest))]);
    }

    /// <summary><c>select</c>/<c>reject</c> (test on the item) and <c>selectattr</c>/<c>rejectattr</c> (test on an attribute).</summary>
    public static Value Select(RenderState state, Value input, Arguments arguments, bool keep, bool byAttribute)
    {
        var offset = 0;
        string? attribute = null;
        if (byAttribute)
        {
            attribute = PyText.Str(arguments.Require(0, "attribute", keep ? "selectattr" : "rejectattr"), state);
            offset = 1;
        }

        Func<Value, bool> predicate = static v => v.IsTruthy;
        if (arguments.Positional.Count > offset)
        {
            var testName = PyText.Str(arguments.Positional[offset], state);
            if (!TestFunctions.TryGet(testName, out var test))
            {
                throw Errors.Runtime($"No test named '{testName}'.");
            }

            var testArguments = arguments.Skip(offset + 1);
            predicate = v => test(state, v, testArguments);
        }

        var result = new List<Value>();
        foreach (var item in Sequences.Iterate(input))
        {
            var subject = attribute is null ? item : AttributePath(item, attribute);
            if (predicate(subject) == keep)
            {
                result.Add(item);
            }
        }

        return new ListValue(result);
    }

    public static Value Reverse(RenderState state, Value input, Arguments arguments)
    {
        if (input is StringValue text)
        {
            var points = Sequences.CodePoints(text.Value);
            points.Reverse();
            return new StringValue(string.Concat(points));
        }

        var items = Sequences.Iterate(input).ToList();
        items.Reverse();
        return new ListValue(items);
    }

    /// <summary><c>sort(reverse=False, case_sensitive=False, attribute=None)</c>, stable like Python's.</summary>
    public static Value Sort(RenderState state, Value input, Arguments arguments)
    {
        var reverse = Filters.Flag(arguments.Find(0, "reverse"));
        var caseSensitive = Filters.Flag(arguments.Find(1, "case_sensitive"));
        var attribute = Filters.OptionalString(state, arguments.Find(2, "attribute"));
        var items = Sequences.Iterate(input).ToList();
        return new ListValue(SortBy(items, item => SortKey(attribute is null ? item : AttributePath(item, attribute), caseSensitive), reverse));
    }

    /// <summary><c>unique(case_sensitive=False, attribute=None)</c>: first occurrences, in order.</summary>
    public static Value Unique(RenderState state, Value input, Arguments arguments)
    {
        var caseSensitive = Filters.Flag(arguments.Find(0, "case_sensitive"));
        var attribute = Filters.OptionalString(state, arguments.Find(1, "attribute"));
        var seen = new HashSet<Value>(ValueKeyComparer.Instance);
        var result = new List<Value>();
        foreach (var item in Sequences.Iterate(input))
        {
            if (seen.Add(SortKey(attribute is null ? item : AttributePath(item, attribute), caseSensitive)))
            {
                result.Add(item);
            }
        }

        return new ListValue(result);
    }

    public static Value Extreme(RenderState state, Value input, Arguments arguments, bool largest)
    {
        var caseSensitive = Filters.Flag(arguments.Find(0, "case_sensitive"));
        var attribute = Filters.OptionalString(state, arguments.Find(1, "attribute"));
        Value? best = null;
        Value? bestKey = null;
        foreach (var item in Sequences.Iterate(input))
        {
            var key = SortKey(attribute is null ? item : AttributePath(item, attribute), caseSensitive);
            if (bestKey is null || Comparison.Compare(key, bestKey, largest ? ">" : "<") * (largest ? 1 : -1) > 0)
            {
                (best, bestKey) = (item, key);
            }
        }

        return best ?? new UndefinedValue($"No {(largest ? "largest" : "smallest")} item, sequence was empty.");
    }

    public static Value Sum(RenderState state, Value input, Arguments arguments)
    {
        var attribute = Filters.OptionalString(state, arguments.Find(0, "attribute"));
        var total = arguments.Get(1, "start", IntValue.Of(0));
        foreach (var item in Sequences.Iterate(input))
        {
            total = Arithmetic.Add(state, total, attribute is null ? item : AttributePath(item, attribute));
        }

        return total;
    }

    /// <summary>Jinja's dotted attribute path for filters, e.g. <c>attribute='function.name'</c>; digits index lists.</summary>
    public static Value AttributePath(Value item, string path)
    {
        var value = item;
        foreach (var part in path.Split('.'))
        {
            value = long.TryParse(part, out var index) ? Access.Item(value, IntValue.Of(index)) : Access.Item(value, new StringValue(part));
            if (value is UndefinedValue)
            {
                return value;
            }
        }

        return value;
    }

    private static Value SortKey(Value value, bool caseSensitive) =>
        !caseSensitive && value is StringValue s ? new StringValue(s.Value.ToLowerInvariant()) : value;

    private static List<T> SortBy<T>(List<T> items, Func<T, Value> key, bool reverse)
        where T : Value
    {
        var comparer = Comparer<Value>.Create((a, b) => Comparison.Compare(a, b, "<"));
        var sorted = reverse ? items.OrderByDescending(key, comparer) : items.OrderBy(key, comparer);
        return [.. sorted];
    }
}
