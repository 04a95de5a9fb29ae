namespace Sluice.Engine.Templates.Runtime;

/// <summary>
/// Jinja's default <c>Undefined</c>: falsy, renders as empty, iterates as empty, has length 0, and fails
/// with its <see cref="Hint"/> when used otherwise (arithmetic, attribute access, calls).
/// </summary>
internal sealed class UndefinedValue(string hint) : Value
{
    /// <summary>Why the value is undefined, e.g. "'x' is undefined" or "'dict object' has no attribute 'y'".</summary>
    public string Hint { get; } = hint;

    public override string TypeName => "Undefined";

    public override bool IsTruthy => false;

    public TemplateException Error() => new(TemplateErrorKind.Runtime, Hint);

    public static UndefinedValue Name(string name) => new($"'{name}' is undefined");

    public static UndefinedValue Attribute(Value target, string name) =>
        new($"'{target.TypeName} object' has no attribute '{name}'");
}
