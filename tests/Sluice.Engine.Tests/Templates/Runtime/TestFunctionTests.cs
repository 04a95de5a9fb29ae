using static Sluice.Engine.Tests.Support.TemplateTestSupport;

namespace Sluice.Engine.Tests.Templates.Runtime;

/// <summary>Jinja's <c>is</c> tests, with Python's idea of each type.</summary>
public sealed class TestFunctionTests
{
    [Theory]
    [InlineData("{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 0 is none }}", "False True True False")]
    [InlineData("{{ 'a' is string }} {{ 1 is string }} {{ 1 is number }} {{ 1.5 is number }} {{ true is number }}", "True False True True True")]
    [InlineData("{{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ true is boolean }} {{ 1 is boolean }}", "True False True True False")]
    [InlineData("{{ {} is mapping }} {{ [] is mapping }} {{ 'a' is iterable }} {{ [] is iterable }} {{ 1 is iterable }} {{ x is iterable }}", "True False True True False True")]
    [InlineData("{{ [] is sequence }} {{ 'a' is sequence }} {{ 1 is sequence }}", "True True False")]
    [InlineData("{{ true is true }} {{ 1 is true }} {{ false is false }} {{ 0 is false }}", "True False True False")]
    [InlineData("{{ 3 is odd }} {{ 3 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }}", "True False True False")]
    [InlineData("{{ 'a' is equalto 'a' }} {{ 'a' is eq('b') }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 2 is ge 2 }} {{ 3 is gt 4 }}", "True False True True True False")]
    [InlineData("{{ 1 is in [1, 2] }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ range is callable }}", "True True True True")]
    [InlineData("{{ x is not defined }} {{ 'a' is not string }}", "True False")]
    public void Render_IsTests_ClassifyValuesLikeJinja(string template, string expected) =>
        Assert.Equal(expected, Render(template));
}
