namespace Sluice.Engine.Templates.Runtime;

/// <summary>
/// Variables visible at a point of the template. As in Jinja, each for-loop iteration and each macro call
/// gets a child scope, so a <c>set</c> inside them does not leak out; <c>if</c> bodies share their parent's.
/// </summary>
internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, Value> _variables = new(StringComparer.Ordinal);

    public Scope? Parent { get; } = parent;

    public bool TryGet(string name, out Value value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            if (scope._variables.TryGetValue(name, out value!))
            {
                return true;
            }
        }

        value = null!;
        return false;
    }

    public Value Get(string name) => TryGet(name, out var value) ? value : UndefinedValue.Name(name);

    public void Set(string name, Value value) => _variables[name] = value;
}
