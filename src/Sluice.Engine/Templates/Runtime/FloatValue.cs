namespace Sluice.Engine.Templates.Runtime;

internal sealed class FloatValue(double value) : Value
{
    public double Value { get; } = value;

    public override string TypeName => "float";

    public override bool IsTruthy => Value != 0;
}
