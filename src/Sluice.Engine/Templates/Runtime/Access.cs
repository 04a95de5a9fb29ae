using Sluice.Engine.Templates.Builtins;

namespace Sluice.Engine.Templates.Runtime;

/// <summary>
/// Jinja's two lookups. <c>x.name</c> tries an attribute (a method such as <c>items</c>, a namespace or loop
/// field) before a dict key; <c>x[key]</c> tries the key first. A miss gives undefined, except on undefined
/// itself, where it is an error, as with Jinja's default <c>Undefined</c>.
/// </summary>
internal static class Access
{
    public static Value Attribute(Value target, string name)
    {
        if (target is UndefinedValue undefined)
        {
            throw undefined.Error();
        }

        if (target.GetOwnAttribute(name) is { } own)
        {
            return own;
        }

        if (Methods.TryBind(target, name) is { } method)
        {
            return method;
        }

        if (target is DictValue dict && dict.TryGet(name, out var item))
        {
            return item;
        }

        return UndefinedValue.Attribute(target, name);
    }

    public static Value Item(Value target, Value key)
    {
        switch (target)
        {
            case UndefinedValue undefined:
                throw undefined.Error();
            case DictValue dict when key is not (ListValue { IsTuple: false } or DictValue):
                if (dict.Items.TryGetValue(key, out var item))
                {
                    return item;
                }

                break;
            case ListValue or StringValue when key is IntValue or BoolValue:
                Comparison.TryNumber(key, out var index, out _, out _);
                return Sequences.Index(target, index);
        }

        return key is StringValue name
            ? target.GetOwnAttribute(name.Value) ?? (Value?)Methods.TryBind(target, name.Value) ?? UndefinedValue.Attribute(target, name.Value)
            : new UndefinedValue($"'{target.TypeName} object' has no attribute {PyText.Repr(key)}");
    }
}
