namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// A context-free grammar over bytes, compiled flat: rule r's alternatives start at <see cref="Alternatives"/>[r],
/// positions in <see cref="Elements"/>, each a run of elements ended by <see cref="End"/>. An element is a terminal
/// (a non-negative index into <see cref="Sets"/>, one byte from that set) or a rule reference (<see cref="RefOf"/>).
/// Rule 0 is the root. Made by <see cref="GrammarBuilder"/>; matched by <see cref="GrammarMatcher"/>.
/// </summary>
public sealed class Grammar
{
    public const int End = -1;

    internal Grammar(ByteSet[] sets, int[] elements, int[][] alternatives)
    {
        Sets = sets;
        Elements = elements;
        Alternatives = alternatives;
    }

    public IReadOnlyList<ByteSet> Sets { get; }
    public IReadOnlyList<int> Elements { get; }
    public IReadOnlyList<int[]> Alternatives { get; }

    public static int RefOf(int rule) => -2 - rule;

    public static bool IsRef(int element, out int rule)
    {
        rule = -2 - element;
        return element <= -2;
    }
}
