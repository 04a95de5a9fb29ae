namespace Sluice.Engine.Templates.Runtime;

/// <summary>Evaluated call arguments, positional then keyword, as Python passes them.</summary>
internal sealed class Arguments(IReadOnlyList<Value> positional, IReadOnlyList<KeyValuePair<string, Value>> named)
{
    public static Arguments Empty { get; } = new([], []);

    public IReadOnlyList<Value> Positional { get; } = positional;

    public IReadOnlyList<KeyValuePair<string, Value>> Named { get; } = named;

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, or null when not given.</summary>
    public Value? Find(int index, string name)
    {
        foreach (var pair in Named)
        {
            if (pair.Key == name)
            {
                return pair.Value;
            }
        }

        return index >= 0 && index < Positional.Count ? Positional[index] : null;
    }

    public Value Get(int index, string name, Value fallback) => Find(index, name) ?? fallback;

    public Value Require(int index, string name, string function) =>
        Find(index, name) ?? throw Errors.Runtime($"{function}() missing required argument '{name}'");

    /// <summary>The positional arguments from <paramref name="start"/> on, with the keyword ones kept.</summary>
    public Arguments Skip(int start) =>
        new(start >= Positional.Count ? [] : Positional.Skip(start).ToList(), Named);
}
