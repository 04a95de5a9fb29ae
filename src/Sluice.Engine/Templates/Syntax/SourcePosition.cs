namespace Sluice.Engine.Templates.Syntax;

/// <summary>A 1-based line and column in the template source.</summary>
internal readonly record struct SourcePosition(int Line, int Column)
{
    public TemplateException Error(TemplateErrorKind kind, string message) => new(kind, message, Line, Column);

    public TemplateException SyntaxError(string message) => Error(TemplateErrorKind.Syntax, message);
}
