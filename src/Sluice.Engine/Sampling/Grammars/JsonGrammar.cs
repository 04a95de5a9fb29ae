using static Sluice.Engine.Sampling.Grammars.GrammarExpr;

namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// The pieces of JSON as grammar expressions, written compact (no whitespace between tokens, as
/// <c>JSON.stringify</c> writes it), so a model cannot pad its answer with blanks until it runs out of tokens.
/// Strings are UTF-8 exactly: no overlong forms, no surrogates, no control characters unescaped.
/// </summary>
public static class JsonGrammar
{
    private static readonly GrammarExpr Digit = Bytes(ByteSet.Range((byte)'0', (byte)'9'));
    private static readonly GrammarExpr Digit19 = Bytes(ByteSet.Range((byte)'1', (byte)'9'));
    private static readonly GrammarExpr Cont = Bytes(ByteSet.Range(0x80, 0xBF));

    public static GrammarExpr Integer { get; } = Seq(
        Optional(Literal("-")),
        Choice(Literal("0"), Seq(Digit19, Repeat(Digit, 0, null))));

    public static GrammarExpr Number { get; } = Seq(
        Integer,
        Optional(Seq(Literal("."), Repeat(Digit, 1, null))),
        Optional(Seq(Bytes(ByteSet.Of((byte)'e').Union(ByteSet.Of((byte)'E'))), Optional(Bytes(ByteSet.Of((byte)'+').Union(ByteSet.Of((byte)'-')))), Repeat(Digit, 1, null))));

    /// <summary>One character of a JSON string's content: an unescaped UTF-8 character or an escape.</summary>
    public static GrammarExpr StringChar { get; } = Choice(
        Bytes(ByteSet.Range(0x20, 0x7F).Except(ByteSet.Of((byte)'"')).Except(ByteSet.Of((byte)'\\'))),
        Seq(Bytes(ByteSet.Range(0xC2, 0xDF)), Cont),
        Seq(Bytes(ByteSet.Of(0xE0)), Bytes(ByteSet.Range(0xA0, 0xBF)), Cont),
        Seq(Bytes(ByteSet.Range(0xE1, 0xEC).Union(ByteSet.Range(0xEE, 0xEF))), Cont, Cont),
        Seq(Bytes(ByteSet.Of(0xED)), Bytes(ByteSet.Range(0x80, 0x9F)), Cont),
        Seq(Bytes(ByteSet.Of(0xF0)), Bytes(ByteSet.Range(0x90, 0xBF)), Cont, Cont),
        Seq(Bytes(ByteSet.Range(0xF1, 0xF3)), Cont, Cont, Cont),
        Seq(Bytes(ByteSet.Of(0xF4)), Bytes(ByteSet.Range(0x80, 0x8F)), Cont, Cont),
        Seq(Literal("\\"), Choice(
            Bytes(Set("\"\\/bfnrt")),
            Seq(Literal("u"), Repeat(Bytes(Set("0123456789abcdefABCDEF")), 4, 4)))));

    public static GrammarExpr String { get; } = Seq(Literal("\""), Repeat(StringChar, 0, null), Literal("\""));

    /// <summary>Defines <paramref name="rule"/> as any JSON value (objects and arrays nest through the rule itself).</summary>
    public static void DefineAnyValue(GrammarBuilder builder, int rule)
    {
        var value = Rule(rule);
        var member = Seq(String, Literal(":"), value);
        builder.Define(rule, Choice(
            Seq(Literal("{"), Optional(Seq(member, Repeat(Seq(Literal(","), member), 0, null))), Literal("}")),
            Seq(Literal("["), Optional(Seq(value, Repeat(Seq(Literal(","), value), 0, null))), Literal("]")),
            String,
            Number,
            Literal("true"),
            Literal("false"),
            Literal("null")));
    }

    /// <summary>Any JSON object (response_format json_object).</summary>
    public static Grammar AnyObject()
    {
        var b = new GrammarBuilder();
        int root = b.NewRule();
        int value = b.NewRule();
        DefineAnyValue(b, value);
        var member = Seq(String, Literal(":"), Rule(value));
        b.Define(root, Seq(Literal("{"), Optional(Seq(member, Repeat(Seq(Literal(","), member), 0, null))), Literal("}")));
        return b.Build();
    }

    private static ByteSet Set(string chars)
    {
        ByteSet s = default;
        foreach (char c in chars)
        {
            s = s.Union(ByteSet.Of((byte)c));
        }
        return s;
    }
}
