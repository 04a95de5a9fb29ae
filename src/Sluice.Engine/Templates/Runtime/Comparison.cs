namespace Sluice.Engine.Templates.Runtime;

/// <summary>Python's <c>==</c>, ordering and <c>in</c> on template values.</summary>
internal static class Comparison
{
    private const int MaxDepth = 256;

    /// <summary>Reads bool, int and float as one numeric type, as Python's numeric tower does.</summary>
    public static bool TryNumber(Value value, out long integer, out double real, out bool isFloat)
    {
        switch (value)
        {
            case IntValue i:
                (integer, real, isFloat) = (i.Value, i.Value, false);
                return true;
            case BoolValue b:
                integer = b.Value ? 1 : 0;
                (real, isFloat) = (integer, false);
                return true;
            case FloatValue f:
                (integer, real, isFloat) = (0, f.Value, true);
                return true;
            default:
                (integer, real, isFloat) = (0, 0, false);
                return false;
        }
    }

    public static bool Equal(Value left, Value right, int depth = 0)
    {
        if (ReferenceEquals(left, right))
        {
            return true;
        }

        if (depth > MaxDepth)
        {
            throw Errors.Limit("values nested too deeply to compare (are they cyclic?)");
        }

        if (TryNumber(left, out var li, out var ld, out var lf) && TryNumber(right, out var ri, out var rd, out var rf))
        {
            return lf || rf ? ld == rd : li == ri;
        }

        switch (left, right)
        {
            case (StringValue a, StringValue b):
                return string.Equals(a.Value, b.Value, StringComparison.Ordinal);
            case (NoneValue, NoneValue):
            case (UndefinedValue, UndefinedValue):
                return true;
            case (ListValue a, ListValue b):
                if (a.IsTuple != b.IsTuple || a.Items.Count != b.Items.Count)
                {
                    return false;
                }

                for (var i = 0; i < a.Items.Count; i++)
                {
                    if (!Equal(a.Items[i], b.Items[i], depth + 1))
                    {
                        return false;
                    }
                }

                return true;
            case (DictValue a, DictValue b):
                if (a.Items.Count != b.Items.Count)
                {
                    return false;
                }

                foreach (var pair in a.Items)
                {
                    if (!b.Items.TryGetValue(pair.Key, out var other) || !Equal(pair.Value, other, depth + 1))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return false;
        }
    }

    /// <summary>Python ordering: numbers, strings (by code unit), and lists or tuples lexicographically.</summary>
    public static int Compare(Value left, Value right, string op, int depth = 0)
    {
        if (left is UndefinedValue ul)
        {
            throw ul.Error();
        }

        if (right is UndefinedValue ur)
        {
            throw ur.Error();
        }

        if (TryNumber(left, out var li, out var ld, out var lf) && TryNumber(right, out var ri, out var rd, out var rf))
        {
            return lf || rf ? ld.CompareTo(rd) : li.CompareTo(ri);
        }

        switch (left, right)
        {
            case (StringValue a, StringValue b):
                return Math.Sign(string.CompareOrdinal(a.Value, b.Value));
            case (ListValue a, ListValue b) when a.IsTuple == b.IsTuple:
                if (depth > MaxDepth)
                {
                    throw Errors.Limit("values nested too deeply to compare (are they cyclic?)");
                }

                for (var i = 0; i < Math.Min(a.Items.Count, b.Items.Count); i++)
                {
                    if (!Equal(a.Items[i], b.Items[i]))
                    {
                        return Compare(a.Items[i], b.Items[i], op, depth + 1);
                    }
                }

                return a.Items.Count.CompareTo(b.Items.Count);
            default:
                throw Errors.Runtime($"'{op}' not supported between instances of '{left.TypeName}' and '{right.TypeName}'");
        }
    }

    /// <summary>Python's <c>item in container</c>: substring, list element or dict key; nothing is in undefined.</summary>
    public static bool Contains(Value container, Value item)
    {
        switch (container)
        {
            case StringValue text:
                if (item is not StringValue needle)
                {
                    throw Errors.Runtime($"'in <string>' requires string as left operand, not {item.TypeName}");
                }

                return text.Value.Contains(needle.Value, StringComparison.Ordinal);
            case ListValue list:
                return list.Items.Any(x => Equal(x, item));
            case DictValue dict:
                return dict.Items.ContainsKey(item);
            case NamespaceValue ns:
                return item is StringValue key && ns.Attributes.ContainsKey(key.Value);
            case UndefinedValue:
                return false;
            default:
                throw Errors.Runtime($"argument of type '{container.TypeName}' is not iterable");
        }
    }
}
