namespace Sluice.Engine.Templates;

/// <summary>
/// The one exception chat template parsing and rendering throw. <see cref="Line"/> and <see cref="Column"/>
/// (1-based) point into the template source when the failing construct is known.
/// </summary>
public sealed class TemplateException : Exception
{
    public TemplateException(TemplateErrorKind kind, string message, int line = 0, int column = 0)
        : base(Format(message, line, column))
    {
        Kind = kind;
        Line = line;
        Column = column;
        Reason = message;
    }

    public TemplateException(TemplateErrorKind kind, string message, Exception innerException)
        : base(message, innerException)
    {
        Kind = kind;
        Reason = message;
    }

    public TemplateErrorKind Kind { get; }

    /// <summary>1-based line of the failing construct, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>1-based column of the failing construct, or 0 when unknown.</summary>
    public int Column { get; }

    /// <summary>The message without the location suffix; for <see cref="TemplateErrorKind.Raised"/> exactly the template's text.</summary>
    public string Reason { get; }

    private static string Format(string message, int line, int column) =>
        line > 0 ? $"{message} (line {line}, column {column})" : message;
}
