namespace Sluice.Engine.Templates.Runtime;

internal sealed class StringValue(string value) : Value
{
    public static StringValue Empty { get; } = new("");

    public string Value { get; } = value;

    public override string TypeName => "str";

    public override bool IsTruthy => Value.Length > 0;
}
