namespace Sluice.Engine.Templates.Runtime;

/// <summary>A Python int, held in 64 bits; arithmetic that overflows fails instead of growing.</summary>
internal sealed class IntValue : Value
{
    private static readonly IntValue[] Small = Enumerable.Range(-5, 262).Select(i => new IntValue(i)).ToArray();

    private IntValue(long value) => Value = value;

    public long Value { get; }

    public override string TypeName => "int";

    public override bool IsTruthy => Value != 0;

    public static IntValue Of(long value) => value is >= -5 and <= 256 ? Small[value + 5] : new IntValue(value);
}
