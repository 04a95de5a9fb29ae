namespace Sluice.Engine.Templates.Runtime;

/// <summary>
/// What <c>namespace(...)</c> returns: the one object whose attributes <c>{% set ns.x = ... %}</c> may
/// assign, which is how templates carry state out of loops.
/// </summary>
internal sealed class NamespaceValue : Value
{
    public OrderedDictionary<string, Value> Attributes { get; } = new(StringComparer.Ordinal);

    public override string TypeName => "Namespace";

    public override Value? GetOwnAttribute(string name) => Attributes.TryGetValue(name, out var value) ? value : null;
}
