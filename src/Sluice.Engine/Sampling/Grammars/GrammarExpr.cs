namespace Sluice.Engine.Sampling.Grammars;

/// <summary>A grammar expression before lowering to rules: bytes, a rule reference, sequence, choice, repetition.</summary>
public abstract record GrammarExpr
{
    public static GrammarExpr Bytes(ByteSet set) => new BytesExpr(set);

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, in order.</summary>
    public static GrammarExpr Literal(string text) =>
        Seq([.. System.Text.Encoding.UTF8.GetBytes(text).Select(b => (GrammarExpr)new BytesExpr(ByteSet.Of(b)))]);

    public static GrammarExpr Seq(params GrammarExpr[] items) => items.Length == 1 ? items[0] : new SeqExpr(items);

    public static GrammarExpr Choice(params GrammarExpr[] options) => options.Length == 1 ? options[0] : new ChoiceExpr(options);

    public static GrammarExpr Rule(int rule) => new RuleExpr(rule);

    /// <summary><paramref name="item"/> between <paramref name="min"/> and <paramref name="max"/> times (null: unbounded).</summary>
    public static GrammarExpr Repeat(GrammarExpr item, int min, int? max) => new RepeatExpr(item, min, max);

    public static GrammarExpr Optional(GrammarExpr item) => new RepeatExpr(item, 0, 1);

    public static readonly GrammarExpr Empty = new SeqExpr([]);
}

public sealed record BytesExpr(ByteSet Set) : GrammarExpr;

public sealed record SeqExpr(GrammarExpr[] Items) : GrammarExpr;

public sealed record ChoiceExpr(GrammarExpr[] Options) : GrammarExpr;

public sealed record RuleExpr(int Id) : GrammarExpr;

public sealed record RepeatExpr(GrammarExpr Item, int Min, int? Max) : GrammarExpr;
