using static Sluice.Engine.Tests.Support.TemplateTestSupport;

namespace Sluice.Engine.Tests.Templates.Runtime;

/// <summary>Python methods templates call on strings, dicts and lists.</summary>
public sealed class MethodTests
{
    [Theory]
    [InlineData("[{{ '  a  '.strip() }}][{{ '  a  '.lstrip() }}][{{ '  a  '.rstrip() }}][{{ 'xxaxx'.strip('x') }}][{{ '\\n\\nx\\n'.lstrip('\\n') }}]", "[a][a  ][  a][a][x\n]")]
    [InlineData("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }}", "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b c'] ['a b', 'c']")]
    [InlineData("{{ 'x</think>y'.split('</think>')[-1] }} {{ 'a\\nb\\r\\nc'.splitlines() }}", "y ['a', 'b', 'c']")]
    [InlineData("{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }}", "True True True")]
    [InlineData("{{ 'aBc'.upper() }} {{ 'aBc'.lower() }} {{ \"they're bill's\".title() }} {{ 'hELLO'.capitalize() }}", "ABC abc They'Re Bill'S Hello")]
    [InlineData("{{ 'a-a-a'.replace('-', '+') }} {{ 'a-a-a'.replace('-', '+', 1) }} {{ 'banana'.count('an') }} {{ 'banana'.find('n') }} {{ 'banana'.rfind('n') }}", "a+a+a a+a-a 2 2 4")]
    [InlineData("{{ '{} and {}'.format(1, 'b') }} {{ '{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='x') }} {{ '{:>5}|{:<3}|{:^5}'.format('r', 'l', 'c') }}", "1 and b ba x!     r|l  |  c  ")]
    [InlineData("{{ '{:.2f} {:05d} {:,} {!r}'.format(3.14159, 42, 1234567, 'q') }} {{ '{{literal}}'.format() }}", "3.14 00042 1,234,567 'q' {literal}")]
    [InlineData("{{ ', '.join(['a', 'b']) }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }} {{ 'prefix-x'.removeprefix('prefix-') }}", "a, b True True True x")]
    public void Render_StringMethods_GivePythonsResults(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ {'a': 1}.get('a') }} {{ {'a': 1}.get('b') }} {{ {'a': 1}.get('b', 2) }}", "1 None 2")]
    [InlineData("{{ {'a': 1, 'b': 2}.keys() | list }} {{ {'a': 1}.values() | list }} {{ {'a': 1}.items() | list }}", "['a', 'b'] [1] [('a', 1)]")]
    public void Render_DictMethods_GivePythonsResults(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{% set xs = [1] %}{{ xs.append(2) }}{% set _ = xs.extend([3, 4]) %}{{ xs }} {{ xs.pop() }} {{ xs }} {{ xs.count(1) }} {{ xs.index(3) }}", "None[1, 2, 3, 4] 4 [1, 2, 3] 1 2")]
    [InlineData("{% set ns = namespace(items=[]) %}{% for x in 'ab' %}{% set _ = ns.items.append(x | upper) %}{% endfor %}{{ ns.items | join }}", "AB")]
    public void Render_ListMethods_MutateInPlace(string template, string expected) =>
        Assert.Equal(expected, Render(template));
}
