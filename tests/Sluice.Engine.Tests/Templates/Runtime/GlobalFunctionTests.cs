using Sluice.Engine.Templates;
using Sluice.Engine.Tests.Support;
using static Sluice.Engine.Tests.Support.TemplateTestSupport;

namespace Sluice.Engine.Tests.Templates.Runtime;

/// <summary>range, namespace, dict, len and HF's strftime_now and raise_exception.</summary>
public sealed class GlobalFunctionTests
{
    [Theory]
    [InlineData("{{ range(3) | list }} {{ range(1, 4) | list }} {{ range(10, 0, -3) | list }} {{ range(0) | list }}", "[0, 1, 2] [1, 2, 3] [10, 7, 4, 1] []")]
    [InlineData("{{ dict(a=1, b='x') }} {{ dict({'a': 1}, b=2) }} {{ dict([('k', 'v')]) }}", "{'a': 1, 'b': 'x'} {'a': 1, 'b': 2} {'k': 'v'}")]
    [InlineData("{{ len([1, 2]) }} {{ len('abc') }}", "2 3")]
    public void Render_GlobalFunctions_GiveJinjasResults(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("%d %b %Y", "15 Sep 2024")]
    [InlineData("%Y-%m-%d %H:%M:%S", "2024-09-15 10:30:00")]
    [InlineData("%A, %B %-d (%a %j %I%p %y)", "Sunday, September 15 (Sun 259 10AM 24)")]
    [InlineData("100%%", "100%")]
    public void Render_StrftimeNow_FormatsTheInjectedClockLikePython(string format, string expected) =>
        Assert.Equal(expected, Render("{{ strftime_now('" + format + "') }}"));

    [Fact]
    public void Render_StrftimeNow_ReadsTheClockOfTheContext()
    {
        var template = ChatTemplate.Parse("{{ strftime_now('%d %b %Y') }}");
        var context = new ChatTemplateContext { Messages = [], Clock = new FixedClock(new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero)) };
        Assert.Equal("02 Jan 2025", template.Render(context));
    }

    [Fact]
    public void Render_RaiseExceptionWithoutAMessage_StillRaises() =>
        Assert.Equal(TemplateErrorKind.Raised, RenderFails("{{ raise_exception() }}").Kind);
}
