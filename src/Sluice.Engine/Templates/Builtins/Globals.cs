using System.Collections.Frozen;
using Sluice.Engine.Templates.Runtime;

namespace Sluice.Engine.Templates.Builtins;

/// <summary>
/// The global functions: Jinja's <c>range</c>, <c>namespace</c> and <c>dict</c>; HF's
/// <c>raise_exception</c> and <c>strftime_now</c>; and <c>len</c>, which Jinja lacks but some templates call.
/// </summary>
internal static class Globals
{
    public static FrozenDictionary<string, Value> All { get; } = new Dictionary<string, Value>
    {
        ["range"] = new BuiltinFunction("range", Range),
        ["namespace"] = new BuiltinFunction("namespace", Namespace),
        ["dict"] = new BuiltinFunction("dict", Dict),
        ["len"] = new BuiltinFunction("len", (_, a) => IntValue.Of(Sequences.Length(a.Require(0, "obj", "len")))),
        ["raise_exception"] = new BuiltinFunction("raise_exception", RaiseException),
        ["strftime_now"] = new BuiltinFunction("strftime_now", StrftimeNow),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static Value Range(RenderState state, Arguments arguments)
    {
        var numbers = arguments.Positional.Select(v => Filters.ToLong(v, "range")).ToArray();
        var (start, stop, step) = numbers.Length switch
        {
            1 => (0L, numbers[0], 1L),
            2 => (numbers[0], numbers[1], 1L),
            3 => (numbers[0], numbers[1], numbers[2]),
            _ => throw Errors.Runtime($"range expected 1 to 3 arguments, got {numbers.Length}"),
        };
        if (step == 0)
        {
            throw Errors.Runtime("range() arg 3 must not be zero");
        }

        var count = step > 0
            ? (stop > start ? ((decimal)stop - start + step - 1) / step : 0)
            : (start > stop ? ((decimal)start - stop - step - 1) / -step : 0);
        state.CheckCollectionLength((long)Math.Min(Math.Floor(count), long.MaxValue));
        var items = new List<Value>((int)count);
        for (var i = 0; i < (int)count; i++)
        {
            items.Add(IntValue.Of(start + (i * step)));
        }

        return new ListValue(items);
    }

    private static Value Namespace(RenderState state, Arguments arguments)
    {
        var ns = new NamespaceValue();
        foreach (var initial in arguments.Positional)
        {
            if (initial is not DictValue dict)
            {
                throw Errors.Runtime("namespace() takes a dict and keyword arguments");
            }

            foreach (var pair in dict.Items)
            {
                ns.Attributes[PyText.Str(pair.Key, state)] = pair.Value;
            }
        }

        foreach (var pair in arguments.Named)
        {
            ns.Attributes[pair.Key] = pair.Value;
        }

        return ns;
    }

    private static Value Dict(RenderState state, Arguments arguments)
    {
        var dict = new DictValue();
        foreach (var initial in arguments.Positional)
        {
            if (initial is DictValue source)
            {
                foreach (var pair in source.Items)
                {
                    dict.Items[pair.Key] = pair.Value;
                }
            }
            else
            {
                foreach (var pair in Sequences.Iterate(initial))
                {
                    var items = Sequences.Iterate(pair);
                    if (items.Count != 2)
                    {
                        throw Errors.Runtime("dict() sequence elements must have length 2");
                    }

                    dict.Items[items[0]] = items[1];
                }
            }
        }

        foreach (var pair in arguments.Named)
        {
            dict.Set(pair.Key, pair.Value);
        }

        return dict;
    }

    private static Value RaiseException(RenderState state, Arguments arguments)
    {
        var message = arguments.Positional.Count > 0 ? PyText.Str(arguments.Positional[0], state) : "raise_exception() called";
        throw new TemplateException(TemplateErrorKind.Raised, message);
    }

    /// <summary>HF's <c>datetime.now().strftime(format)</c>: local time of the context's clock.</summary>
    private static Value StrftimeNow(RenderState state, Arguments arguments)
    {
        var format = PyText.Str(arguments.Require(0, "format", "strftime_now"), state);
        return new StringValue(Strftime.Format(state.Clock.GetLocalNow().DateTime, format));
    }
}
