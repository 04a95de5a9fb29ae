namespace Sluice.Engine.Templates.Runtime;

/// <summary>A boolean; as in Python it also acts as the integer 0 or 1 in arithmetic and comparisons.</summary>
internal sealed class BoolValue : Value
{
    public static BoolValue True { get; } = new(true);

    public static BoolValue False { get; } = new(false);

    private BoolValue(bool value) => Value = value;

    public bool Value { get; }

    public override string TypeName => "bool";

    public override bool IsTruthy => Value;

    public static BoolValue Of(bool value) => value ? True : False;
}
