using static Sluice.Engine.Tests.Support.TemplateTestSupport;

namespace Sluice.Engine.Tests.Templates.Runtime;

/// <summary>Each filter, with Jinja's defaults (case-insensitive sort and unique, banker's rounding, ...).</summary>
public sealed class FilterTests
{
    [Theory]
    [InlineData("[{{ '  a b \\n' | trim }}][{{ 'xxaxx' | trim('x') }}]", "[a b][a]")]
    [InlineData("{{ 'aBc' | upper }} {{ 'aBc' | lower }} {{ 'hello wORLD' | capitalize }}", "ABC abc Hello world")]
    [InlineData("{{ 'ab cd-ef(gh [ij' | title }}", "Ab Cd-Ef(Gh [Ij")]
    [InlineData("{{ 'a b a' | replace('a', 'x') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'ab' | replace('', '-') }}", "x b x bba -a-b-")]
    [InlineData("{{ 'x' | indent(2) }}|{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent('> ', blank=true) }}", "x|a\n  b\n\n  c|  a\n  b|a\n> \n> b")]
    [InlineData("{{ 'one two, three' | wordcount }}", "3")]
    [InlineData("[{{ 'abc' | center(7) }}][{{ 'ab' | center(7) }}][{{ 'ab' | center(6) }}]", "[  abc  ][   ab  ][  ab  ]")]
    [InlineData("{{ 1 | string ~ 2 }} {{ none | string }} {{ [1] | string }}", "12 None [1]")]
    [InlineData("{{ '%s=%.2f' | format('pi', 3.14159) }}", "pi=3.14")]
    public void Render_StringFilters_GiveJinjasResults(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ '42' | int }} {{ '3.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '0x1A' | int(0, 16) }}", "42 3 0 7 3 26")]
    [InlineData("{{ '2.5' | float }} {{ 3 | float }} {{ 'x' | float }} {{ '1e3' | float }}", "2.5 3.0 0.0 1000.0")]
    [InlineData("{{ 2.5 | round }} {{ 3.5 | round }} {{ -2.5 | round }} {{ 2.567 | round(2) }} {{ 2.567 | round(1, 'floor') }} {{ 2.512 | round(1, 'ceil') }}", "2.0 4.0 -2.0 2.57 2.5 2.6")]
    [InlineData("{{ -3 | abs }} {{ -2.5 | abs }} {{ 7 | round }}", "3 2.5 7")]
    [InlineData("{{ 2.675 | round(2) }} {{ -0.4 | round }} {{ 1234.5 | round(-2) }}", "2.67 -0.0 1200.0")]
    public void Render_NumberFilters_GiveJinjasResults(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ [1, 2, 3] | length }} {{ 'abc' | count }} {{ {'a': 1} | length }}", "3 3 1")]
    [InlineData("{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }} [{{ [] | first }}]", "1 3 a []")]
    [InlineData("{{ [1, 'a', none] | join(', ') }} {{ 'abc' | join('-') }}", "1, a, None a-b-c")]
    [InlineData("{{ {'b': 1, 'a': 2} | list }} {{ 'ab' | list }} {{ {'a': 1} | items | list }}", "['b', 'a'] ['a', 'b'] [('a', 1)]")]
    [InlineData("{{ ['b', 'A', 'a', 'c'] | unique | list }} {{ ['b', 'A', 'a'] | unique(case_sensitive=true) | list }}", "['b', 'A', 'c'] ['b', 'A', 'a']")]
    [InlineData("{{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }}", "['A', 'b', 'c'] ['c', 'b', 'A'] ['A', 'b', 'c']")]
    [InlineData("{{ [3, 1, 2] | reverse | list }} {{ 'abc' | reverse }}", "[2, 1, 3] cba")]
    [InlineData("{{ [1, 2, 3, 4] | select('even') | list }} {{ [1, 2, 3, 4] | reject('divisibleby', 3) | list }} {{ [0, 1, '', 'a'] | select | list }}", "[2, 4] [1, 2, 4] [1, 'a']")]
    [InlineData("{{ ['a', 'b'] | map('upper') | list }} {{ [1.6, 2.2] | map('round') | list }}", "['A', 'B'] [2.0, 2.0]")]
    [InlineData("{{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ [1, 2, 3] | sum }} {{ ['b', 'A'] | max }}", "1 3 6 b")]
    [InlineData("{{ {'b': 1, 'A': 2} | dictsort }}", "[('A', 2), ('b', 1)]")]
    [InlineData("{{ x | default('fallback') }} {{ '' | default('empty') }} {{ '' | default('empty', true) }} {{ none | d('n') }}", "fallback  empty None")]
    [InlineData("{{ '<b>' | safe }}", "<b>")]
    public void Render_CollectionFilters_GiveJinjasResults(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void Render_AttributeFilters_SelectMapSortAndJoinByAttribute()
    {
        var vars = Vars(("xs", new object[]
        {
            Vars(("role", "user"), ("n", 2), ("f", Vars(("name", "b")))),
            Vars(("role", "assistant"), ("n", 1), ("f", Vars(("name", "a")))),
            Vars(("role", "user"), ("n", 3)),
        }));
        Assert.Equal("[2, 3]", Render("{{ xs | selectattr('role', 'equalto', 'user') | map(attribute='n') | list }}", vars));
        Assert.Equal("[1]", Render("{{ xs | rejectattr('role', 'eq', 'user') | map(attribute='n') | list }}", vars));
        Assert.Equal("2", Render("{{ xs | selectattr('f') | list | length }}", vars));
        Assert.Equal("['b', 'a', '?']", Render("{{ xs | map(attribute='f.name', default='?') | list }}", vars));
        Assert.Equal("1,2,3", Render("{{ xs | sort(attribute='n') | join(',', attribute='n') }}", vars));
        Assert.Equal("user", Render("{{ (xs | first).role }}", vars));
    }

    [Theory]
    [InlineData("{{ x | tojson }}", "{\"b\": [1, 2.0, \"é\\\"\\n\"], \"a\": {}, \"c\": [], \"d\": null, \"e\": true}")]
    [InlineData("{{ x | tojson(indent=2) }}", "{\n  \"b\": [\n    1,\n    2.0,\n    \"é\\\"\\n\"\n  ],\n  \"a\": {},\n  \"c\": [],\n  \"d\": null,\n  \"e\": true\n}")]
    [InlineData("{{ x | tojson(sort_keys=true) }}", "{\"a\": {}, \"b\": [1, 2.0, \"é\\\"\\n\"], \"c\": [], \"d\": null, \"e\": true}")]
    [InlineData("{{ x | tojson(separators=(',', ':')) }}", "{\"b\":[1,2.0,\"é\\\"\\n\"],\"a\":{},\"c\":[],\"d\":null,\"e\":true}")]
    [InlineData("{{ x | tojson(ensure_ascii=true) }}", "{\"b\": [1, 2.0, \"\\u00e9\\\"\\n\"], \"a\": {}, \"c\": [], \"d\": null, \"e\": true}")]
    [InlineData("{{ '<tag> & \\'quote\\'\\u0001' | tojson }} {{ (1, 'a') | tojson }} {{ 1e-7 | tojson }}", "\"<tag> & 'quote'\\u0001\" [1, \"a\"] 1e-07")]
    public void Render_Tojson_MatchesPythonsJsonDumpsAsHfCallsIt(string template, string expected)
    {
        var x = Vars(("b", new object[] { 1, 2.0, "é\"\n" }), ("a", Vars()), ("c", Array.Empty<object>()), ("d", null), ("e", true));
        Assert.Equal(expected, Render(template, Vars(("x", x))));
    }
}
