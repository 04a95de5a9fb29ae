namespace Sluice.Engine.Templates;

/// <summary>What went wrong while parsing or rendering a chat template.</summary>
public enum TemplateErrorKind
{
    /// <summary>The template text is not valid Jinja (or uses a construct this interpreter lacks).</summary>
    Syntax,

    /// <summary>An expression failed while rendering: a type error, an undefined value used invalidly, and so on.</summary>
    Runtime,

    /// <summary>The template itself called <c>raise_exception(message)</c>; the message is the template's own.</summary>
    Raised,

    /// <summary>A <see cref="TemplateLimits"/> bound was hit: output size, iterations, recursion depth or time.</summary>
    LimitExceeded,
}
