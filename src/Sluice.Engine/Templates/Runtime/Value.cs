namespace Sluice.Engine.Templates.Runtime;

/// <summary>
/// A template value, modelled on the Python objects Jinja works with: undefined, none, bool, int (64-bit),
/// float, str, list/tuple, dict (insertion-ordered), namespace, loop and callables.
/// </summary>
internal abstract class Value
{
    /// <summary>The Python type name, as error messages print it.</summary>
    public abstract string TypeName { get; }

    /// <summary>Python truthiness: empty strings and containers, zero, none and undefined are false.</summary>
    public virtual bool IsTruthy => true;

    /// <summary>Attributes the value exposes itself (namespace and loop fields); null when it has none of that name.</summary>
    public virtual Value? GetOwnAttribute(string name) => null;

    public override string ToString() => PyText.Str(this);
}
