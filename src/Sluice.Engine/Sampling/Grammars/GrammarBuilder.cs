namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// Builds a <see cref="Grammar"/>: declare rules (<see cref="NewRule"/>), define each as a <see cref="GrammarExpr"/>,
/// then <see cref="Build"/> lowers choices and repetitions into anonymous rules. Repetition is right-recursive
/// (R ::= x R | ε), which the matcher runs as a tail call, so its stacks stay as deep as the nesting, not the length.
/// </summary>
public sealed class GrammarBuilder
{
    /// <summary>Bounded repetitions unroll into one rule per optional copy; past this many they are refused.</summary>
    public const int MaxBoundedRepeat = 4096;

    private readonly List<GrammarExpr?> _definitions = [];
    private readonly List<ByteSet> _sets = [];
    private readonly Dictionary<ByteSet, int> _setIds = [];
    private readonly List<List<int[]>> _lowered = [];

    /// <summary>A new rule id; the first one made is the root.</summary>
    public int NewRule()
    {
        _definitions.Add(null);
        return _definitions.Count - 1;
    }

    public void Define(int rule, GrammarExpr expr)
    {
        if (_definitions[rule] != null)
        {
            throw new InvalidOperationException($"rule {rule} is defined twice");
        }
        _definitions[rule] = expr;
    }

    public Grammar Build()
    {
        if (_definitions.Count == 0)
        {
            throw new InvalidOperationException("the grammar has no rule");
        }
        int declared = _definitions.Count;
        for (int r = 0; r < declared; r++)
        {
            _lowered.Add([]);
        }
        for (int r = 0; r < declared; r++)
        {
            var def = _definitions[r] ?? throw new InvalidOperationException($"rule {r} is used but not defined");
            _lowered[r].AddRange(Alternatives(def));
        }
        var elements = new List<int>();
        var alts = new int[_lowered.Count][];
        for (int r = 0; r < _lowered.Count; r++)
        {
            alts[r] = new int[_lowered[r].Count];
            for (int a = 0; a < _lowered[r].Count; a++)
            {
                alts[r][a] = elements.Count;
                elements.AddRange(_lowered[r][a]);
                elements.Add(Grammar.End);
            }
        }
        return new Grammar([.. _sets], [.. elements], alts);
    }

    private IEnumerable<int[]> Alternatives(GrammarExpr e) => e is ChoiceExpr c
        ? c.Options.SelectMany(Alternatives)
        : [Sequence(e)];

    private int[] Sequence(GrammarExpr e)
    {
        var list = new List<int>();
        Append(e, list);
        return [.. list];
    }

    private void Append(GrammarExpr e, List<int> into)
    {
        switch (e)
        {
            case BytesExpr b:
                if (!_setIds.TryGetValue(b.Set, out int id))
                {
                    id = _sets.Count;
                    _sets.Add(b.Set);
                    _setIds[b.Set] = id;
                }
                into.Add(id);
                break;
            case SeqExpr s:
                foreach (var item in s.Items)
                {
                    Append(item, into);
                }
                break;
            case RuleExpr r:
                into.Add(Grammar.RefOf(r.Id));
                break;
            case ChoiceExpr c:
                into.Add(Grammar.RefOf(Anonymous(Alternatives(c))));
                break;
            case RepeatExpr rep:
                for (int i = 0; i < rep.Min; i++)
                {
                    Append(rep.Item, into);
                }
                if (rep.Max is null)
                {
                    // R ::= item R | ε
                    int star = Anonymous([]);
                    _lowered[star].Add([.. Sequence(rep.Item), Grammar.RefOf(star)]);
                    _lowered[star].Add([]);
                    into.Add(Grammar.RefOf(star));
                }
                else if (rep.Max > rep.Min)
                {
                    if (rep.Max - rep.Min > MaxBoundedRepeat)
                    {
                        throw new GrammarException($"a repetition bound of {rep.Max} is more than {MaxBoundedRepeat}");
                    }
                    // O_k ::= item O_{k-1} | ε, O_1 ::= item | ε
                    int next = -1;
                    for (int k = 1; k <= rep.Max - rep.Min; k++)
                    {
                        int opt = Anonymous([]);
                        var seq = Sequence(rep.Item);
                        _lowered[opt].Add(next < 0 ? seq : [.. seq, Grammar.RefOf(next)]);
                        _lowered[opt].Add([]);
                        next = opt;
                    }
                    into.Add(Grammar.RefOf(next));
                }
                break;
            default:
                throw new ArgumentException($"unknown grammar expression {e.GetType().Name}");
        }
    }

    private int Anonymous(IEnumerable<int[]> alternatives)
    {
        _lowered.Add([]);
        int r = _lowered.Count - 1;
        _lowered[r].AddRange(alternatives);
        return r;
    }
}

/// <summary>A grammar or schema that cannot be compiled; the message says why (a server answers 400 with it).</summary>
public sealed class GrammarException(string message, string? keyword = null) : Exception(message)
{
    /// <summary>The schema keyword or construct that was refused, when there is one.</summary>
    public string? Keyword { get; } = keyword;
}
