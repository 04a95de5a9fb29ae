using Sluice.Engine.Templates;
using static Sluice.Engine.Tests.Support.TemplateTestSupport;

namespace Sluice.Engine.Tests.Templates.Runtime;

/// <summary>if, for, set, macro, call, filter blocks, loop controls, generation blocks and raise_exception.</summary>
public sealed class StatementTests
{
    [Theory]
    [InlineData("{% if 0 %}a{% elif '' %}b{% elif 'x' %}c{% else %}d{% endif %}", "c")]
    [InlineData("{% if [] %}a{% else %}b{% endif %}", "b")]
    [InlineData("{% if true %}{% if false %}a{% else %}b{% endif %}{% endif %}", "b")]
    public void Render_If_PicksTheFirstTruthyBranch(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}",
        "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|")]
    [InlineData("{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}", "-2;1-3;2-;")]
    [InlineData("{% for x in [] %}x{% else %}empty{% endfor %}", "empty")]
    [InlineData("{% for x in range(6) if x is odd %}{{ x }}{{ loop.index }}/{{ loop.length }} {% endfor %}", "11/3 32/3 53/3 ")]
    [InlineData("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;")]
    [InlineData("{% for k, v in {'a': 1} | items %}{{ k }}{{ v }}{% endfor %}{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}", "a1xy")]
    [InlineData("{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }} {% endfor %}", "3 7 ")]
    [InlineData("{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}", "02")]
    [InlineData("{% for i in [1, 2] %}{% for j in 'ab' %}{{ loop.index }}{{ j }}{% endfor %}{{ loop.index }} {% endfor %}", "1a2b1 1a2b2 ")]
    [InlineData("{% for x in 'abc' %}{{ loop.cycle('odd', 'even') }} {% endfor %}", "odd even odd ")]
    [InlineData("{% for x in range(3) %}{% set x = x * 10 %}{{ x }} {% endfor %}", "0 10 20 ")]
    public void Render_ForLoops_OfferJinjasLoopVariableElseFiltersAndUnpacking(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{% set x = 0 %}{% for i in range(3) %}{% set x = x + 1 %}{% endfor %}{{ x }}", "0")]
    [InlineData("{% set ns = namespace(x=0) %}{% for i in range(3) %}{% set ns.x = ns.x + 1 %}{% endfor %}{{ ns.x }}", "3")]
    [InlineData("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}[{{ ns.c }}]", "12[]")]
    [InlineData("{% set a, b = 1, 2 %}{{ a }}{{ b }}", "12")]
    [InlineData("{% if true %}{% set x = 'set inside if' %}{% endif %}{{ x }}", "set inside if")]
    [InlineData("{% set x %}a{{ 1 + 1 }}{% endset %}{{ x }}", "a2")]
    [InlineData("{% set x | upper | trim %}  ab  {% endset %}[{{ x }}]", "[AB]")]
    [InlineData("{% for i in range(2) %}{% if i > 0 %}{{ y }}{% endif %}{% set y = i %}{% endfor %}[{{ y }}]", "[]")]
    public void Render_Set_AssignsInTheCurrentScopeAndLoopsDoNotLeak(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void Render_AttributeAssignment_NeedsANamespace() =>
        Assert.Equal("cannot assign attribute on non-namespace object", RenderFails("{% set d = {} %}{% set d.x = 1 %}").Reason);

    [Theory]
    [InlineData("{% macro m(a, b=2) %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, 3) }}{{ m(b=4, a=5) }}", "[12][13][54]")]
    [InlineData("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(5) }}", "120")]
    [InlineData("{% set greeting = 'hi' %}{% macro m() %}{{ greeting }}{% endmacro %}{% set greeting = 'hello' %}{{ m() }}", "hello")]
    [InlineData("{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}inner{% endcall %}", "<inner>")]
    [InlineData("{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(v) each([1, 2]) %}({{ v }}){% endcall %}", "(1)(2)")]
    [InlineData("{% macro m(a) %}{{ a is defined }}{% endmacro %}{{ m() }}", "False")]
    public void Render_Macros_TakeArgumentsRecursionAndCallerBlocks(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void Render_MacroCalledWithTooManyArguments_Fails() =>
        Assert.Equal("macro 'm' takes not more than 1 argument(s)", RenderFails("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}").Reason);

    [Theory]
    [InlineData("{% filter upper %}ab{{ 'c' }}{% endfilter %}", "ABC")]
    [InlineData("{% filter replace('a', 'o') | title %}banana bread{% endfilter %}", "Bonono Breod")]
    [InlineData("a{% generation %}{{ 'assistant text' }}{% endgeneration %}b", "aassistant textb")]
    public void Render_FilterAndGenerationBlocks_RenderTheirBodies(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void Render_RaiseException_StopsWithTheTemplatesOwnMessage()
    {
        var error = RenderFails("ok\n{% if true %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}");
        Assert.Equal(TemplateErrorKind.Raised, error.Kind);
        Assert.Equal("Conversation roles must alternate", error.Reason);
        Assert.Equal(2, error.Line);
    }
}
