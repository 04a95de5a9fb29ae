namespace Sluice.Engine.Templates;

/// <summary>
/// Bounds that keep a hostile or buggy template from hanging the server or exhausting memory or the stack.
/// Every bound, when hit, ends the render with a <see cref="TemplateException"/> of kind
/// <see cref="TemplateErrorKind.LimitExceeded"/>.
/// </summary>
public sealed record TemplateLimits
{
    public static TemplateLimits Default { get; } = new();

    /// <summary>Most characters the rendered prompt, or any string built while rendering, may hold.</summary>
    public int MaxOutputLength { get; init; } = 4 * 1024 * 1024;

    /// <summary>Most loop iterations plus macro calls in one render.</summary>
    public long MaxIterations { get; init; } = 1_000_000;

    /// <summary>
    /// Most items a list built by the template may hold (a <c>range</c>, a repeated or concatenated list).
    /// Jinja's sandbox caps <c>range</c> at the same 100,000.
    /// </summary>
    public int MaxCollectionLength { get; init; } = 100_000;

    /// <summary>Deepest nesting of macro calls, and of values walked by repr, JSON and equality.</summary>
    public int MaxRecursionDepth { get; init; } = 64;

    /// <summary>Deepest nesting of expressions and blocks the parser accepts, so parsing cannot overflow the stack.</summary>
    public int MaxParseDepth { get; init; } = 128;

    /// <summary>Wall-clock budget of one render, a backstop for costs the counters above do not see.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);
}
