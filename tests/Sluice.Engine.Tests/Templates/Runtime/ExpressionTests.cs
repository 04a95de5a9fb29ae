using Sluice.Engine.Templates;
using static Sluice.Engine.Tests.Support.TemplateTestSupport;

namespace Sluice.Engine.Tests.Templates.Runtime;

/// <summary>Arithmetic, comparison, access, slicing and printing with Python's semantics, as Jinja has them.</summary>
public sealed class ExpressionTests
{
    [Theory]
    [InlineData("{{ 7 / 2 }} {{ 6 / 2 }}", "3.5 3.0")]
    [InlineData("{{ 7 // 2 }} {{ -7 // 2 }} {{ 10.0 // 3 }}", "3 -4 3.0")]
    [InlineData("{{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 % 2 }}", "2 -2 1.5")]
    [InlineData("{{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2.0 ** 2 }}", "1024 0.5 4.0")]
    [InlineData("{{ 1 + 1.5 }} {{ true + 1 }} {{ 3 - 5 }}", "2.5 2 -2")]
    [InlineData("{{ 'ab' * 3 }}|{{ 3 * 'ab' }}|{{ 'ab' * 0 }}|{{ [1] * 3 }}", "ababab|ababab||[1, 1, 1]")]
    [InlineData("{{ [1] + [2] }} {{ 'a' + 'b' }}", "[1, 2] ab")]
    [InlineData("{{ '%s-%d' % ('a', 3) }} {{ '%05.1f' % 3.14159 }} {{ '%(n)s!' % {'n': 'x'} }}", "a-3 003.1 x!")]
    public void Render_Arithmetic_FollowsPython(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ 0.1 + 0.2 }}", "0.30000000000000004")]
    [InlineData("{{ 1e20 }} {{ 1e16 }} {{ 1e15 }}", "1e+20 1e+16 1000000000000000.0")]
    [InlineData("{{ 0.0001 }} {{ 0.00001 }} {{ 2.5e-7 }}", "0.0001 1e-05 2.5e-07")]
    [InlineData("{{ 3.0 }} {{ -0.0 }} {{ 123.456 }} {{ 1.5e300 * 1e10 }}", "3.0 -0.0 123.456 inf")]
    [InlineData("{{ 2 ** 0.5 }}", "1.4142135623730951")]
    public void Render_Floats_PrintAsPythonRepr(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' == 'a' }} {{ 'a' != 'b' }}", "True True True True")]
    [InlineData("{{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 2 >= 2.0 }}", "True True True")]
    [InlineData("{{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }} {{ (1, 2) == [1, 2] }} {{ none == none }}", "True False True")]
    [InlineData("{{ 'b' in 'abc' }} {{ 2 not in [1, 3] }} {{ 'k' in {'k': 1} }} {{ 'z' in x }}", "True True True False")]
    [InlineData("{{ 0 or 'x' }} {{ 'a' and 'b' }} [{{ '' and 'b' }}] {{ not [] }} {{ none or [] }}", "x b [] True []")]
    public void Render_ComparisonsAndLogic_FollowPython(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ [1, 'a', None, True, 1.5] }}", "[1, 'a', None, True, 1.5]")]
    [InlineData("{{ {'k': (1,), 'n': none} }}", "{'k': (1,), 'n': None}")]
    [InlineData("{{ [\"it's\", 'say \"hi\"', 'a\\nb', 'back\\\\slash'] }}", "[\"it's\", 'say \"hi\"', 'a\\nb', 'back\\\\slash']")]
    [InlineData("{{ ['both \\' and \"'] }}", "['both \\' and \"']")]
    [InlineData("{{ ['é', '日本'] }}", "['é', '日本']")]
    public void Render_Containers_PrintAsPythonStr(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ [1, 2, 3][1:] }} {{ [1, 2, 3][-2:] }} {{ [1, 2, 3][5:] }} {{ [1, 2, 3][:-1] }}", "[2, 3] [2, 3] [] [1, 2]")]
    [InlineData("{{ 'abcdef'[::-1] }} {{ 'abcdef'[1:4] }} {{ 'abcdef'[::2] }} {{ 'abcdef'[4:1:-1] }}", "fedcba bcd ace edc")]
    [InlineData("{{ 'abc'[-1] }}{{ 'abc'[0] }} {{ [1, 2][1] }}", "ca 2")]
    [InlineData("[{{ 'abc'[5] }}][{{ [1][5] }}]", "[][]")]
    [InlineData("{{ 'a😀b'[1] }} {{ 'a😀b' | length }} {{ 'a😀b'[::-1] }}", "😀 3 b😀a")]
    public void Render_IndexingAndSlicing_FollowPython(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void Render_AttributesAndItems_ReachDictKeysAndMethods()
    {
        var d = Vars(("d", Vars(("a", 1), ("items", "shadowed"))));
        Assert.Equal("1 1 [('a', 1), ('items', 'shadowed')] shadowed", Render("{{ d.a }} {{ d['a'] }} {{ d.items() | list }} {{ d['items'] }}", d));
        Assert.Equal("[]", Render("[{{ d.missing }}{{ none.anything }}]", d));
    }

    [Theory]
    [InlineData("[{{ x }}]", "[]")]
    [InlineData("{{ x is defined }} {{ x is undefined }}", "False True")]
    [InlineData("{% if x %}y{% else %}n{% endif %}", "n")]
    [InlineData("{{ x | length }} {{ x | default('d') }} {{ x ~ 'a' }} {{ x == x }}", "0 d a True")]
    [InlineData("{% for i in x %}{% else %}empty{% endfor %}", "empty")]
    [InlineData("{{ 'a' if x else 'b' }}[{{ 'c' if false }}]", "b[]")]
    public void Render_UndefinedValues_AreFalsyEmptyAndHarmless(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ x.y }}", "'x' is undefined")]
    [InlineData("{{ x + 1 }}", "'x' is undefined")]
    [InlineData("{{ x() }}", "'x' is undefined")]
    [InlineData("{{ d.missing.deeper }}", "'dict object' has no attribute 'missing'")]
    [InlineData("{{ messages[0]['content'] }}", "list object has no element 0")]
    [InlineData("{{ x | tojson }}", "Object of type Undefined is not JSON serializable ('x' is undefined)")]
    public void Render_UndefinedValueUsedInvalidly_Fails(string template, string reason)
    {
        var error = RenderFails(template, Vars(("d", new Dictionary<string, object?>()), ("messages", Array.Empty<object>())));
        Assert.Equal(TemplateErrorKind.Runtime, error.Kind);
        Assert.Equal(reason, error.Reason);
        Assert.Equal(1, error.Line);
    }

    [Theory]
    [InlineData("{{ 'a' + 1 }}", "can only concatenate str (not \"int\") to str")]
    [InlineData("{{ 1 < 'a' }}", "'<' not supported between instances of 'int' and 'str'")]
    [InlineData("{% for x in none %}{% endfor %}", "'NoneType' object is not iterable")]
    [InlineData("{{ 1 / 0 }}", "division by zero")]
    [InlineData("{{ 1 in 'abc' }}", "'in <string>' requires string as left operand, not int")]
    [InlineData("{{ 2 ** 64 }}", "integer overflow: results past 64 bits are not supported")]
    [InlineData("{{ {[1]: 2} }}", "unhashable type: 'list'")]
    [InlineData("{{ 3() }}", "'int' object is not callable")]
    public void Render_TypeError_IsReportedLikePython(string template, string reason) =>
        Assert.Equal(reason, RenderFails(template).Reason);

    [Fact]
    public void Render_RuntimeError_PointsAtTheStatementThatFailed()
    {
        var error = RenderFails("line one\n{% if true %}\n  {{ 1 / 0 }}\n{% endif %}");
        Assert.Equal((3, 3), (error.Line, error.Column));
    }
}
