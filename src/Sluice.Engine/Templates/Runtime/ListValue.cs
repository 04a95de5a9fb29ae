namespace Sluice.Engine.Templates.Runtime;

/// <summary>A Python list, or a tuple when <see cref="IsTuple"/> (immutable, printed with parentheses).</summary>
internal sealed class ListValue(List<Value> items, bool isTuple = false) : Value
{
    public List<Value> Items { get; } = items;

    public bool IsTuple { get; } = isTuple;

    public override string TypeName => IsTuple ? "tuple" : "list";

    public override bool IsTruthy => Items.Count > 0;

    public static ListValue Tuple(params Value[] items) => new([.. items], isTuple: true);
}
