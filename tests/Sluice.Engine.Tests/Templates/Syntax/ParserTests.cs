using Sluice.Engine.Templates;
using static Sluice.Engine.Tests.Support.TemplateTestSupport;

namespace Sluice.Engine.Tests.Templates.Syntax;

/// <summary>Operator precedence as Jinja defines it, and syntax errors that say what and where.</summary>
public sealed class ParserTests
{
    [Theory]
    [InlineData("{{ 1 + 2 * 3 }}", "7")]
    [InlineData("{{ (1 + 2) * 3 }}", "9")]
    [InlineData("{{ -2 ** 2 }}", "4")]
    [InlineData("{{ 2 ** 3 ** 2 }}", "64")]
    [InlineData("{{ not true == false }}", "True")]
    [InlineData("{{ not 1 in [1] }}", "False")]
    [InlineData("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}", "True False")]
    [InlineData("{{ 'x' ~ 2 * 3 }}", "x6")]
    [InlineData("{{ 1 if false else 2 if true else 3 }}", "2")]
    [InlineData("{{ x | default('d') ~ '!' }}", "d!")]
    [InlineData("{{ -3 | abs }}", "3")]
    [InlineData("{{ not x is defined }}", "True")]
    [InlineData("{{ true or false and false }}", "True")]
    [InlineData("{{ 'a' if 1 is odd else 'b' }}", "a")]
    [InlineData("{{ 10 is divisibleby 5 and 3 is odd }}", "True")]
    [InlineData("{{ 'ab' 'cd' | upper }}", "ABCD")]
    [InlineData("{{ [1, 2, 3,] | length }}{{ {'a': 1,} | length }}", "31")]
    public void Render_Expressions_BindAsInJinja(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void Render_Concatenation_BindsTighterThanAddition()
    {
        var error = RenderFails("{{ 1 + 2 ~ 3 }}");
        Assert.Equal("unsupported operand type(s) for +: 'int' and 'str'", error.Reason);
    }

    [Theory]
    [InlineData("{% if x %}\nunterminated", "Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'.", 2)]
    [InlineData("hello\n{{ x | nosuchfilter }}", "No filter named 'nosuchfilter'.", 2)]
    [InlineData("{{ x is nosuchtest }}", "No test named 'nosuchtest'.", 1)]
    [InlineData("{% frobnicate %}", "Encountered unknown tag 'frobnicate'.", 1)]
    [InlineData("{% for x in y %}{% endif %}", "Encountered unknown tag 'endif'. Jinja was looking for the following tags: 'endfor' or 'else'.", 1)]
    [InlineData("{% break %}", "'break' outside of a loop", 1)]
    [InlineData("a\nb\n{{ 'abc }}", "unterminated string literal", 3)]
    [InlineData("{{ x ", "unexpected end of template, the print tag is not closed", 1)]
    [InlineData("{# never closed", "Missing end of comment tag", 1)]
    [InlineData("{{ 1 + }}", "unexpected end of print statement", 1)]
    [InlineData("{{ f(a=1, 2) }}", "positional argument follows keyword argument", 1)]
    [InlineData("{% include 'other.jinja' %}", "'include' is not supported: chat templates are rendered without a loader", 1)]
    [InlineData("{% for x in y recursive %}{% endfor %}", "recursive for loops are not supported", 1)]
    public void Parse_SyntaxError_SaysWhatIsWrongAndOnWhichLine(string template, string reason, int line)
    {
        var error = Assert.Throws<TemplateException>(() => ChatTemplate.Parse(template));
        Assert.Equal(TemplateErrorKind.Syntax, error.Kind);
        Assert.Equal(reason, error.Reason);
        Assert.Equal(line, error.Line);
        Assert.Contains($"(line {line}, column ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SyntaxError_PointsAtTheColumnOfTheOffendingToken()
    {
        var error = Assert.Throws<TemplateException>(() => ChatTemplate.Parse("ok\n  {{ x | nosuch }}"));
        Assert.Equal((2, 10), (error.Line, error.Column));
    }

    [Fact]
    public void Parse_UnknownFilterInABranchThatNeverRuns_IsRejected() =>
        Assert.Throws<TemplateException>(() => ChatTemplate.Parse("{% if false %}{{ x | nosuch }}{% endif %}"));
}
