namespace Sluice.Engine.Templates.Runtime;

internal sealed class NoneValue : Value
{
    public static NoneValue Instance { get; } = new();

    private NoneValue()
    {
    }

    public override string TypeName => "NoneType";

    public override bool IsTruthy => false;
}
