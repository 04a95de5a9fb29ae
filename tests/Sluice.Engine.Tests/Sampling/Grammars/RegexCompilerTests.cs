using System.Text;
using Sluice.Engine.Sampling.Grammars;

namespace Sluice.Engine.Tests.Sampling.Grammars;

public sealed class RegexCompilerTests
{
    private static readonly TokenTrie Bytes = new(256, id => [(byte)id], []);

    private static bool Accepts(string pattern, string text) =>
        new GrammarMatcher(RegexCompiler.Compile(pattern), Bytes).Accepts(Encoding.UTF8.GetBytes(text));

    [Theory]
    [InlineData(@"^\d{3}-\d{4}$", "555-1234", true)]
    [InlineData(@"\d{3}-\d{4}", "555-123", false)]
    [InlineData(@"(cat|dog)s?", "dogs", true)]
    [InlineData(@"(cat|dog)s?", "cow", false)]
    [InlineData(@"[A-Z][a-z]+", "Hello", true)]
    [InlineData(@"[A-Z][a-z]+", "hello", false)]
    [InlineData(@"[^0-9]+", "aé😀", true)]
    [InlineData(@"[^0-9]+", "a1", false)]
    [InlineData(@"a.c", "a😀c", true)]
    [InlineData(@"a.c", "a\nc", false)]
    [InlineData(@"\w+@\w+\.com", "me@host.com", true)]
    [InlineData(@"\w+@\w+\.com", "me@hostxcom", false)]
    [InlineData(@"x{2,}", "xxxxx", true)]
    [InlineData(@"x{2,}", "x", false)]
    [InlineData(@"(?:ab){1,2}?", "abab", true)]
    [InlineData(@"(?<year>\d{4})", "2024", true)]
    [InlineData(@"\x41\u00e9", "Aé", true)]
    [InlineData(@"[\s\d]*", " 1\t2", true)]
    [InlineData(@"[é-ë]", "ê", true)]
    [InlineData(@"[é-ë]", "e", false)]
    public void Regex_Strings_MatchedWhole(string pattern, string text, bool valid) =>
        Assert.Equal(valid, Accepts(pattern, text));

    [Theory]
    [InlineData(@"(?=a)b", "(?")]
    [InlineData(@"\bword", "\\b")]
    [InlineData(@"(a)\1", "\\1")]
    [InlineData(@"a$b", "$")]
    public void Regex_UnsupportedConstruct_RefusedNamingIt(string pattern, string construct) =>
        Assert.Equal(construct, Assert.Throws<GrammarException>(() => RegexCompiler.Compile(pattern)).Keyword);

    [Theory]
    [InlineData("(ab")]
    [InlineData("[ab")]
    [InlineData("*a")]
    [InlineData(@"\xZZ")]
    [InlineData("a{3,1}")]
    public void Regex_Malformed_Refused(string pattern) =>
        Assert.Throws<GrammarException>(() => RegexCompiler.Compile(pattern));

    [Theory]
    [InlineData(0, 0x10FFFF)]
    [InlineData(0x7F, 0x800)]
    [InlineData(0xD000, 0xE100)]
    [InlineData(0xFFF0, 0x10010)]
    [InlineData(0x3FF, 0x1401)]
    public void Utf8Ranges_EveryScalarNearTheEdges_InExactlyWhenInRange(int lo, int hi)
    {
        var matcher = new GrammarMatcher(Build(Utf8Ranges.Expr([(lo, hi)])), Bytes);
        int[] probes = [0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF, lo, hi, lo - 1, hi + 1, (lo + hi) / 2, 0x3FF, 0x400, 0x1400, 0x1402];
        foreach (int v in probes.Where(v => v is >= 0 and <= 0x10FFFF and (< 0xD800 or > 0xDFFF)))
        {
            bool inside = v >= lo && v <= hi;
            Assert.True(inside == matcher.Accepts(Encoding.UTF8.GetBytes(char.ConvertFromUtf32(v))), $"U+{v:X}");
        }
        // a lone surrogate's bytes (ED A0 80) are never a character
        Assert.False(matcher.Accepts([0xED, 0xA0, 0x80]));
    }

    private static Grammar Build(GrammarExpr e)
    {
        var b = new GrammarBuilder();
        b.Define(b.NewRule(), e);
        return b.Build();
    }
}
