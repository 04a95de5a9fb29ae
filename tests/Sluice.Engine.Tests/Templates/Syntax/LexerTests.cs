using static Sluice.Engine.Tests.Support.TemplateTestSupport;

namespace Sluice.Engine.Tests.Templates.Syntax;

/// <summary>Whitespace control, comments, raw blocks and literal syntax, under HF's trim_blocks and lstrip_blocks.</summary>
public sealed class LexerTests
{
    [Theory]
    [InlineData("a\n{% if true %}\nb\n{% endif %}\nc", "a\nb\nc")]
    [InlineData("a\n    {% if true %}\n    b\n    {% endif %}\nc", "a\n    b\nc")]
    [InlineData("a\n\t {% for x in [1] %}{{ x }}{% endfor %}\nb", "a\n1b")]
    [InlineData("x  {% if true %}y{% endif %}", "x  y")]
    [InlineData("  {{ 1 }}  \n", "  1  ")]
    [InlineData("a  {{- 1 -}}  b", "a1b")]
    [InlineData("a \n {%- if true -%} \n b \n {%- endif -%} \n c", "abc")]
    [InlineData("x {%+ if true %}y{% endif +%}\nz", "x y\nz")]
    [InlineData("{{ 1 }}\n{{ 2 }}", "1\n2")]
    public void Render_WhitespaceControl_FollowsJinjaWithHfOptions(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{# a comment #}\nx", "x")]
    [InlineData("a {#- comment -#} b", "ab")]
    [InlineData("a\n  {# indented comment #}\nb", "a\nb")]
    [InlineData("{# {{ not rendered }} {% if %} #}ok", "ok")]
    public void Render_Comments_RenderNothingAndObeyWhitespaceControl(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{% raw %}{{ not rendered }}{% endraw %}", "{{ not rendered }}")]
    [InlineData("a\n  {% raw %}\n  x{{y}}\n  {% endraw %}\nb", "a\n\n  x{{y}}\nb")]
    [InlineData("a {%- raw -%} x {%- endraw -%} b", "axb")]
    public void Render_RawBlocks_KeepTheirText(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("line\n", "line")]
    [InlineData("line\n\n", "line\n")]
    [InlineData("a\r\nb\rc", "a\nb\nc")]
    public void Render_Newlines_AreNormalisedAndOneTrailingNewlineIsDropped(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ 'it''s' }}", "its")]
    [InlineData("{{ \"a\\tb\\n\" ~ 'c\\'d' ~ '\\u00e9\\x41\\101' }}", "a\tb\nc'déAA")]
    [InlineData("{{ 'a\\qb' }}", "a\\qb")]
    [InlineData("{{ '\\\\' }}", "\\")]
    [InlineData("{{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }}", "31 15 5 1000")]
    [InlineData("{{ 1e3 }} {{ 1.5e-3 }} {{ 2.50 }}", "1000.0 0.0015 2.5")]
    [InlineData("{{ {'a': {'b': 1}} }}", "{'a': {'b': 1}}")]
    [InlineData("{{ [] }}{{ () }}{{ (1,) }}{{ {} }}", "[]()(1,){}")]
    [InlineData("{{ True }}{{ true }}{{ None }}{{ none }}{{ False }}", "TrueTrueNoneNoneFalse")]
    [InlineData("{{ 1, 2 }}", "(1, 2)")]
    public void Render_Literals_ReadLikePython(string template, string expected) =>
        Assert.Equal(expected, Render(template));
}
