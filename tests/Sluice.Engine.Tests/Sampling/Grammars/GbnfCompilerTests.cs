using System.Text;
using Sluice.Engine.Sampling.Grammars;

namespace Sluice.Engine.Tests.Sampling.Grammars;

public sealed class GbnfCompilerTests
{
    private static readonly TokenTrie Bytes = new(256, id => [(byte)id], []);

    private static bool Accepts(string gbnf, string text) =>
        new GrammarMatcher(GbnfCompiler.Compile(gbnf), Bytes).Accepts(Encoding.UTF8.GetBytes(text));

    // llama.cpp's grammars/ style: arithmetic, lists, JSON-ish values, comments, rules used before they are defined
    private const string Arithmetic = """
        # arithmetic over integers
        root  ::= expr
        expr  ::= term (("+" | "-") term)*
        term  ::= factor (("*" | "/") factor)*
        factor ::= num | "(" expr ")"
        num   ::= [0-9]+
        """;

    private const string List = """
        root ::= item+
        item ::= "- " [^\n]+ "\n"
        """;

    private const string Multiline = """
        root ::= (
            "yes" |
            "no"
        ) "!"?
        """;

    [Theory]
    [InlineData(Arithmetic, "1+2*(3-4)", true)]
    [InlineData(Arithmetic, "1+", false)]
    [InlineData(Arithmetic, "(12)", true)]
    [InlineData(Arithmetic, "(12", false)]
    [InlineData(List, "- milk\n- eggs\n", true)]
    [InlineData(List, "- milk", false)]
    [InlineData(List, "", false)]
    [InlineData(Multiline, "yes!", true)]
    [InlineData(Multiline, "no", true)]
    [InlineData(Multiline, "maybe", false)]
    [InlineData("root ::= [a-c]{2,3}", "abc", true)]
    [InlineData("root ::= [a-c]{2,3}", "a", false)]
    [InlineData("root ::= [a-c]{2,3}", "abca", false)]
    [InlineData("root ::= \"x\"{2}", "xx", true)]
    [InlineData("root ::= \"x\"{2,} \"y\"?", "xxxxy", true)]
    [InlineData("root ::= [^a-z]", "é", true)]
    [InlineData("root ::= [^a-z]", "q", false)]
    [InlineData("root ::= . .", "a😀", true)]
    [InlineData("root ::= \"\\u00e9\\x41\\n\\\"\"", "éA\n\"", true)]
    [InlineData("root ::= [\\]\\-]+", "]-]", true)]
    [InlineData("root ::= a | b\na ::= \"A\"\nb ::= \"B\" # comment", "B", true)]
    [InlineData("root ::= a | b\na ::= \"A\"\nb ::= \"B\"", "AB", false)]
    public void Gbnf_Strings_MatchedWhole(string gbnf, string text, bool valid) =>
        Assert.Equal(valid, Accepts(gbnf, text));

    [Theory]
    [InlineData("expr ::= \"a\"", "no 'root' rule")]
    [InlineData("root ::= item", "rule 'item' is used but not defined")]
    [InlineData("root ::= \"a\"\nroot ::= \"b\"", "rule 'root' is defined twice")]
    [InlineData("root ::= \"a", "unterminated literal")]
    [InlineData("root ::= [a-", "unterminated character class")]
    [InlineData("root = \"a\"", "expected '::='")]
    [InlineData("root ::= (\"a\"", "expected ')'")]
    [InlineData("root ::= \"a\"{3,1}", "out of range")]
    [InlineData("root ::= [z-a]", "runs backwards")]
    [InlineData("root ::= \"\\q\"", "unknown escape")]
    public void Gbnf_Malformed_IsRefusedNamingTheProblem(string gbnf, string problem) =>
        Assert.Contains(problem, Assert.Throws<GrammarException>(() => GbnfCompiler.Compile(gbnf)).Message);
}
