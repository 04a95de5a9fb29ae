using System.Collections.Frozen;
using System.Text;
using Sluice.Engine.Templates.Runtime;

namespace Sluice.Engine.Templates.Builtins;

/// <summary>
/// The Python methods templates call on values: <c>str.strip()</c>, <c>str.split()</c>, <c>dict.get()</c>,
/// <c>dict.items()</c>, <c>list.append()</c> and the like. HF's immutable sandbox forbids the mutating list
/// methods, but llama.cpp's engine allows them and some templates rely on that, so they are here too.
/// </summary>
internal static class Methods
{
    private delegate Value Method(RenderState state, Value target, Arguments arguments);

    private static readonly FrozenDictionary<string, Method> StringMethods = new Dictionary<string, Method>
    {
        ["strip"] = (s, t, a) => new StringValue(PyText.Strip(Text(t), Filters.OptionalString(s, a.Find(0, "chars")))),
        ["lstrip"] = (s, t, a) => new StringValue(PyText.Strip(Text(t), Filters.OptionalString(s, a.Find(0, "chars")), right: false)),
        ["rstrip"] = (s, t, a) => new StringValue(PyText.Strip(Text(t), Filters.OptionalString(s, a.Find(0, "chars")), left: false)),
        ["split"] = (s, t, a) => Split(s, Text(t), a, fromRight: false),
        ["rsplit"] = (s, t, a) => Split(s, Text(t), a, fromRight: true),
        ["splitlines"] = (_, t, _) => new ListValue([.. Filters.SplitLines(Text(t)).Select(l => (Value)new StringValue(l))]),
        ["startswith"] = (s, t, a) => BoolValue.Of(Affix(s, Text(t), a, "startswith", (text, p) => text.StartsWith(p, StringComparison.Ordinal))),
        ["endswith"] = (s, t, a) => BoolValue.Of(Affix(s, Text(t), a, "endswith", (text, p) => text.EndsWith(p, StringComparison.Ordinal))),
        ["upper"] = (_, t, _) => new StringValue(Text(t).ToUpperInvariant()),
        ["lower"] = (_, t, _) => new StringValue(Text(t).ToLowerInvariant()),
        ["title"] = (_, t, _) => new StringValue(PythonTitle(Text(t))),
        ["capitalize"] = (_, t, _) => new StringValue(Text(t) is { Length: > 0 } x ? char.ToUpperInvariant(x[0]) + x[1..].ToLowerInvariant() : ""),
        ["replace"] = (s, t, a) => new StringValue(s.CheckString(Filters.PyReplace(
            s,
            Text(t),
            PyText.Str(a.Require(0, "old", "replace"), s),
            PyText.Str(a.Require(1, "new", "replace"), s),
            a.Find(2, "count") is { } c ? Filters.ToLong(c, "replace") : -1))),
        ["format"] = (s, t, a) => new StringValue(s.CheckString(PyFormatting.Format(s, Text(t), a))),
        ["count"] = (s, t, a) => IntValue.Of(CountOccurrences(Text(t), PyText.Str(a.Require(0, "sub", "count"), s))),
        ["find"] = (s, t, a) => IntValue.Of(Find(Text(t), PyText.Str(a.Require(0, "sub", "find"), s), last: false)),
        ["rfind"] = (s, t, a) => IntValue.Of(Find(Text(t), PyText.Str(a.Require(0, "sub", "rfind"), s), last: true)),
        ["index"] = (s, t, a) => Find(Text(t), PyText.Str(a.Require(0, "sub", "index"), s), last: false) is var i and >= 0
            ? IntValue.Of(i)
            : throw Errors.Runtime("substring not found"),
        ["join"] = (s, t, a) => Join(s, Text(t), a.Require(0, "iterable", "join")),
        ["removeprefix"] = (s, t, a) => new StringValue(PyText.Str(a.Require(0, "prefix", "removeprefix"), s) is var p && Text(t).StartsWith(p, StringComparison.Ordinal) ? Text(t)[p.Length..] : Text(t)),
        ["removesuffix"] = (s, t, a) => new StringValue(PyText.Str(a.Require(0, "suffix", "removesuffix"), s) is var p && p.Length > 0 && Text(t).EndsWith(p, StringComparison.Ordinal) ? Text(t)[..^p.Length] : Text(t)),
        ["isdigit"] = (_, t, _) => BoolValue.Of(Text(t) is { Length: > 0 } x && x.All(char.IsDigit)),
        ["isalpha"] = (_, t, _) => BoolValue.Of(Text(t) is { Length: > 0 } x && x.All(char.IsLetter)),
        ["isalnum"] = (_, t, _) => BoolValue.Of(Text(t) is { Length: > 0 } x && x.All(char.IsLetterOrDigit)),
        ["isspace"] = (_, t, _) => BoolValue.Of(Text(t) is { Length: > 0 } x && x.All(PyText.IsSpace)),
        ["islower"] = (_, t, _) => BoolValue.Of(Text(t) is var x && x.Any(char.IsLetter) && x == x.ToLowerInvariant()),
        ["isupper"] = (_, t, _) => BoolValue.Of(Text(t) is var x && x.Any(char.IsLetter) && x == x.ToUpperInvariant()),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, Method> DictMethods = new Dictionary<string, Method>
    {
        ["get"] = (_, t, a) => Dict(t).Items.TryGetValue(a.Require(0, "key", "get"), out var v) ? v : a.Get(1, "default", NoneValue.Instance),
        ["items"] = (_, t, _) => new ListValue([.. Dict(t).Items.Select(p => ListValue.Tuple(p.Key, p.Value))]),
        ["keys"] = (_, t, _) => new ListValue([.. Dict(t).Items.Keys]),
        ["values"] = (_, t, _) => new ListValue([.. Dict(t).Items.Values]),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, Method> ListMethods = new Dictionary<string, Method>
    {
        ["append"] = (s, t, a) => Mutate(s, t, list => list.Add(a.Require(0, "object", "append"))),
        ["extend"] = (s, t, a) => Mutate(s, t, list => list.AddRange(Sequences.Iterate(a.Require(0, "iterable", "extend")))),
        ["insert"] = (s, t, a) => Mutate(s, t, list =>
        {
            var at = Filters.ToLong(a.Require(0, "index", "insert"), "insert");
            at = at < 0 ? Math.Max(0, at + list.Count) : Math.Min(at, list.Count);
            list.Insert((int)at, a.Require(1, "object", "insert"));
        }),
        ["pop"] = (_, t, a) => Pop(t, a),
        ["count"] = (_, t, a) => IntValue.Of(List(t).Items.Count(v => Comparison.Equal(v, a.Require(0, "value", "count")))),
        ["index"] = (_, t, a) => List(t).Items.FindIndex(v => Comparison.Equal(v, a.Require(0, "value", "index"))) is var i and >= 0
            ? IntValue.Of(i)
            : throw Errors.Runtime("value is not in list"),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, Method> TupleMethods =
        ListMethods.Where(p => p.Key is "count" or "index").ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The method <paramref name="name"/> of <paramref name="target"/>, bound, or null when it has none.</summary>
    public static BoundMethod? TryBind(Value target, string name)
    {
        var table = target switch
        {
            StringValue => StringMethods,
            DictValue => DictMethods,
            ListValue { IsTuple: false } => ListMethods,
            ListValue => TupleMethods,
            _ => null,
        };
        return table is not null && table.TryGetValue(name, out var method)
            ? new BoundMethod(target, name, (s, t, a) => method(s, t, a))
            : null;
    }

    private static string Text(Value value) => ((StringValue)value).Value;

    private static DictValue Dict(Value value) => (DictValue)value;

    private static ListValue List(Value value) => (ListValue)value;

    private static Value Mutate(RenderState state, Value target, Action<List<Value>> change)
    {
        var list = List(target).Items;
        change(list);
        state.CheckCollectionLength(list.Count);
        return NoneValue.Instance;
    }

    /// <summary>Python's <c>separator.join(items)</c>; the size is checked before anything is built.</summary>
    private static Value Join(RenderState state, string separator, Value iterable)
    {
        var parts = Sequences.Iterate(iterable).Select(v => v is StringValue x
            ? x.Value
            : throw Errors.Runtime($"sequence item: expected str instance, {v.TypeName} found")).ToList();
        state.CheckStringLength(parts.Sum(p => (long)p.Length) + ((long)separator.Length * Math.Max(0, parts.Count - 1)));
        return new StringValue(string.Join(separator, parts));
    }

    private static Value Pop(Value target, Arguments arguments)
    {
        var list = List(target).Items;
        if (list.Count == 0)
        {
            throw Errors.Runtime("pop from empty list");
        }

        var at = arguments.Find(0, "index") is { } i ? Filters.ToLong(i, "pop") : -1;
        at = at < 0 ? at + list.Count : at;
        if (at < 0 || at >= list.Count)
        {
            throw Errors.Runtime("pop index out of range");
        }

        var value = list[(int)at];
        list.RemoveAt((int)at);
        return value;
    }

    private static bool Affix(RenderState state, string text, Arguments arguments, string name, Func<string, string, bool> test)
    {
        var affix = arguments.Require(0, "prefix", name);
        var candidates = affix is ListValue { IsTuple: true } tuple ? tuple.Items : [affix];
        foreach (var candidate in candidates)
        {
            if (candidate is not StringValue s)
            {
                throw Errors.Runtime($"{name} first arg must be str or a tuple of str, not {candidate.TypeName}");
            }

            if (test(text, s.Value))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Python's <c>split</c>/<c>rsplit</c>: on runs of whitespace (dropping empties) without a separator.</summary>
    private static Value Split(RenderState state, string text, Arguments arguments, bool fromRight)
    {
        var separator = Filters.OptionalString(state, arguments.Find(0, "sep"));
        var maxSplit = arguments.Find(1, "maxsplit") is { } m ? Filters.ToLong(m, "split") : -1;
        if (maxSplit < 0)
        {
            maxSplit = long.MaxValue;
        }

        if (separator is { Length: 0 })
        {
            throw Errors.Runtime("empty separator");
        }

        var parts = new List<string>();
        if (separator is null)
        {
            var words = new List<(int Start, int End)>();
            var i = 0;
            while (i < text.Length)
            {
                while (i < text.Length && PyText.IsSpace(text[i]))
                {
                    i++;
                }

                var start = i;
                while (i < text.Length && !PyText.IsSpace(text[i]))
                {
                    i++;
                }

                if (i > start)
                {
                    words.Add((start, i));
                    state.CheckCollectionLength(words.Count);
                }
            }

            if (maxSplit < words.Count - 1)
            {
                // The unsplit remainder keeps its inner whitespace but not the outer.
                if (fromRight)
                {
                    var keep = words.Skip(words.Count - (int)maxSplit).ToList();
                    parts.Add(PyText.Strip(text[..keep[0].Start], null));
                    parts.AddRange(keep.Select(w => text[w.Start..w.End]));
                }
                else
                {
                    parts.AddRange(words.Take((int)maxSplit).Select(w => text[w.Start..w.End]));
                    parts.Add(PyText.Strip(text[words[(int)maxSplit].Start..], null));
                }
            }
            else
            {
                parts.AddRange(words.Select(w => text[w.Start..w.End]));
            }
        }
        else if (!fromRight)
        {
            var position = 0;
            for (var n = 0L; n < maxSplit; n++)
            {
                var found = text.IndexOf(separator, position, StringComparison.Ordinal);
                if (found < 0)
                {
                    break;
                }

                parts.Add(text[position..found]);
                state.CheckCollectionLength(parts.Count);
                position = found + separator.Length;
            }

            parts.Add(text[position..]);
        }
        else
        {
            var end = text.Length;
            for (var n = 0L; n < maxSplit && end > 0; n++)
            {
                var found = text.LastIndexOf(separator, end - 1, StringComparison.Ordinal);
                if (found < 0 || found + separator.Length > end)
                {
                    break;
                }

                parts.Insert(0, text[(found + separator.Length)..end]);
                end = found;
            }

            parts.Insert(0, text[..end]);
        }

        state.CheckCollectionLength(parts.Count);
        return new ListValue([.. parts.Select(p => (Value)new StringValue(p))]);
    }

    private static long CountOccurrences(string text, string needle)
    {
        if (needle.Length == 0)
        {
            return Sequences.CodePointCount(text) + 1;
        }

        var count = 0L;
        for (var i = text.IndexOf(needle, StringComparison.Ordinal); i >= 0; i = text.IndexOf(needle, i + needle.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static long Find(string text, string needle, bool last)
    {
        var index = last ? text.LastIndexOf(needle, StringComparison.Ordinal) : text.IndexOf(needle, StringComparison.Ordinal);
        return index < 0 ? -1 : Sequences.CodePointCount(text[..index]);
    }

    /// <summary>Python's <c>str.title</c>: a letter is upper-cased when the character before it is not a letter.</summary>
    private static string PythonTitle(string text)
    {
        var builder = new StringBuilder(text.Length);
        var previousIsLetter = false;
        foreach (var c in text)
        {
            builder.Append(previousIsLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousIsLetter = char.IsLetter(c);
        }

        return builder.ToString();
    }
}
