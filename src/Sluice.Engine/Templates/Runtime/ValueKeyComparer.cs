namespace Sluice.Engine.Templates.Runtime;

/// <summary>Dict key equality and hashing with Python's rules: equal numbers hash alike, lists and dicts are unhashable.</summary>
internal sealed class ValueKeyComparer : IEqualityComparer<Value>
{
    public static ValueKeyComparer Instance { get; } = new();

    public bool Equals(Value? x, Value? y) => x is not null && y is not null && Comparison.Equal(x, y);

    public int GetHashCode(Value value)
    {
        switch (value)
        {
            case StringValue s:
                return StringComparer.Ordinal.GetHashCode(s.Value);
            case IntValue i:
                return i.Value.GetHashCode();
            case BoolValue b:
                return (b.Value ? 1L : 0L).GetHashCode();
            case FloatValue f:
                return f.Value % 1 == 0 && Math.Abs(f.Value) < 9e18 ? ((long)f.Value).GetHashCode() : f.Value.GetHashCode();
            case ListValue { IsTuple: true } tuple:
                var hash = new HashCode();
                foreach (var item in tuple.Items)
                {
                    hash.Add(GetHashCode(item));
                }

                return hash.ToHashCode();
            case ListValue or DictValue:
                throw Errors.Runtime($"unhashable type: '{value.TypeName}'");
            case NoneValue or UndefinedValue:
                return value.TypeName.GetHashCode(StringComparison.Ordinal);
            default:
                return System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(value);
        }
    }
}
