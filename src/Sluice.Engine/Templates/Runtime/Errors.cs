namespace Sluice.Engine.Templates.Runtime;

/// <summary>Shorthands for the exceptions rendering throws; the interpreter adds the template position.</summary>
internal static class Errors
{
    public static TemplateException Runtime(string message) => new(TemplateErrorKind.Runtime, message);

    public static TemplateException Limit(string message) => new(TemplateErrorKind.LimitExceeded, message);

    public static TemplateException Unsupported(string operation, Value left, Value right) =>
        Runtime($"unsupported operand type(s) for {operation}: '{left.TypeName}' and '{right.TypeName}'");
}
