using System.Diagnostics;
using Sluice.Engine.Templates;
using static Sluice.Engine.Tests.Support.TemplateTestSupport;

namespace Sluice.Engine.Tests.Templates;

/// <summary>
/// Templates come from model files, which anyone can publish: runaway loops, recursion and output must end
/// quickly in a <see cref="TemplateException"/>, never a hang, an out-of-memory or a stack overflow.
/// </summary>
public sealed class HostileTemplateTests
{
    [Theory]
    [InlineData("{% for i in range(10**9) %}x{% endfor %}")]
    [InlineData("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")]
    [InlineData("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")]
    [InlineData("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}")]
    [InlineData("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}")]
    [InlineData("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}")]
    [InlineData("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}")]
    [InlineData("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}")]
    [InlineData("{{ 'x' * 10**12 }}")]
    [InlineData("{{ [0] * 10**12 }}")]
    [InlineData("{% set l = [] %}{% set _ = l.append(l) %}{{ l }}")]
    [InlineData("{% set l = [] %}{% set _ = l.append(l) %}{{ l | tojson }}")]
    [InlineData("{% set l = [] %}{% for i in range(100000) %}{% set _ = l.append(i) %}{% set _ = l.append(i) %}{% endfor %}")]
    [InlineData("{{ 'ab' | replace('', 'x' * 100000) | replace('', 'y' * 100000) }}")]
    [InlineData("{% set s = 'x' * 4000000 %}{{ ''.join([s] * 100000) }}")]
    [InlineData("{% set s = 'x' * 4000000 %}{{ ('%s' * 1000) % ((s,) * 1000) }}")]
    [InlineData("{% set s = 'x' * 4000000 %}{{ [s] * 100000 }}")]
    [InlineData("{{ ('a,' * 2000000).split(',') | length }}")]
    public void Render_RunawayTemplate_EndsInALimitErrorQuickly(string template)
    {
        // a counter, not the wall-clock backstop, must stop each of these (a loaded 2-core CI host
        // can take seconds over the worst one, a million macro calls), so the timeout is out of reach
        var error = RenderFails(template, limits: TemplateLimits.Default with { Timeout = TimeSpan.FromMinutes(5) });
        Assert.Equal(TemplateErrorKind.LimitExceeded, error.Kind);
        Assert.DoesNotContain("longer than", error.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(10_000, "(", ")")]
    [InlineData(10_000, "[", "]")]
    [InlineData(10_000, "not ", "")]
    [InlineData(10_000, "-", "")]
    public void Parse_DeeplyNestedExpressions_AreASyntaxErrorNotAStackOverflow(int depth, string open, string close)
    {
        var template = "{{ " + string.Concat(Enumerable.Repeat(open, depth)) + "1" + string.Concat(Enumerable.Repeat(close, depth)) + " }}";
        var error = Assert.Throws<TemplateException>(() => ChatTemplate.Parse(template));
        Assert.Equal(TemplateErrorKind.Syntax, error.Kind);
    }

    [Fact]
    public void Parse_DeeplyNestedBlocks_AreASyntaxErrorNotAStackOverflow()
    {
        var template = string.Concat(Enumerable.Repeat("{% if true %}", 10_000)) + string.Concat(Enumerable.Repeat("{% endif %}", 10_000));
        Assert.Equal(TemplateErrorKind.Syntax, Assert.Throws<TemplateException>(() => ChatTemplate.Parse(template)).Kind);
    }

    [Fact]
    public void Render_TighterLimits_AreEnforced()
    {
        var tight = TemplateLimits.Default with { MaxOutputLength = 10, MaxIterations = 5, MaxRecursionDepth = 3, MaxCollectionLength = 4 };
        Assert.Equal("xxxxxxxxxx", Render("{{ 'x' * 10 }}", limits: tight));
        Assert.Equal(TemplateErrorKind.LimitExceeded, RenderFails("{{ 'x' * 11 }}", limits: tight).Kind);
        Assert.Equal(TemplateErrorKind.LimitExceeded, RenderFails("{% for i in [1, 2, 3, 4, 5, 6] %}{% endfor %}", limits: tight).Kind);
        Assert.Equal(TemplateErrorKind.LimitExceeded, RenderFails("{{ range(5) }}", limits: tight).Kind);
        Assert.Equal(
            TemplateErrorKind.LimitExceeded,
            RenderFails("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}", limits: tight).Kind);
        Assert.Equal(TemplateErrorKind.Syntax, Assert.Throws<TemplateException>(() => ChatTemplate.Parse("{{ ((((1)))) }}", tight with { MaxParseDepth = 3 })).Kind);
    }

    [Fact]
    public void Render_RunningTooLong_IsStoppedByTheTimeout()
    {
        var limits = TemplateLimits.Default with { MaxIterations = long.MaxValue, Timeout = TimeSpan.FromMilliseconds(100) };
        var watch = Stopwatch.StartNew();
        var error = RenderFails("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", limits: limits);
        Assert.Equal(TemplateErrorKind.LimitExceeded, error.Kind);
        Assert.Contains("longer than", error.Reason, StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
    }
}
