namespace Sluice.Engine.Templates.Runtime;

/// <summary>A Python dict: insertion-ordered, keys compared with Python equality (so 1, 1.0 and True collide).</summary>
internal sealed class DictValue : Value
{
    public DictValue()
    {
        Items = new OrderedDictionary<Value, Value>(ValueKeyComparer.Instance);
    }

    public OrderedDictionary<Value, Value> Items { get; }

    public override string TypeName => "dict";

    public override bool IsTruthy => Items.Count > 0;

    public bool TryGet(string key, out Value value) => Items.TryGetValue(new StringValue(key), out value!);

    public void Set(string key, Value value) => Items[new StringValue(key)] = value;
}
