namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// Runs a <see cref="Grammar"/> over bytes and masks a vocabulary with it. States are interned, transitions cached
/// per (state, byte) and token masks cached per state, so a schema's states (inside a string, after a comma...) cost a
/// walk of the vocabulary once and a lookup afterwards. Thread-safe: many sequences (of one request or of requests
/// with the same grammar) share one matcher and compute their masks in parallel; a cache race computes the same
/// value twice, never a wrong one.
/// </summary>
public sealed class GrammarMatcher
{
    /// <summary>
    /// Masks kept per matcher (one bit per token each: 12.5 KB for a 100K vocabulary, so 3.2 MB a matcher and about
    /// 200 MB for a full <see cref="GrammarCache"/>); a schema's states past these are walked again each time.
    /// </summary>
    public const int MaxCachedMasks = 256;

    /// <summary>Parse stacks deeper than this are refused (a schema nesting past it, or a runaway grammar).</summary>
    public const int MaxDepth = 512;

    private readonly Grammar _grammar;
    private readonly Dictionary<StateKey, GrammarState> _interned = [];
    private readonly Lock _lock = new();
    private int _cachedMasks;

    public GrammarMatcher(Grammar grammar, TokenTrie vocabulary)
    {
        _grammar = grammar;
        Vocabulary = vocabulary;
        var root = new List<Frame?>();
        foreach (int alt in grammar.Alternatives[0])
        {
            Close(new Frame(alt, null), root, 0);
        }
        Start = Intern(root);
    }

    public Grammar Grammar => _grammar;
    public TokenTrie Vocabulary { get; }
    public GrammarState Start { get; }

    /// <summary>The state after <paramref name="b"/>, or null when the grammar cannot take it.</summary>
    public GrammarState? Step(GrammarState state, byte b)
    {
        if (!state.FirstBytes.Contains(b))
        {
            return null;
        }
        var next = state.CachedNext(b);
        if (next == null)
        {
            next = Compute(state, b);
            state.CacheNext(b, next);
        }
        return next == GrammarState.Dead ? null : next;
    }

    /// <summary>The state after a run of bytes, or null as soon as one is refused.</summary>
    public GrammarState? Step(GrammarState state, ReadOnlySpan<byte> bytes)
    {
        GrammarState? s = state;
        foreach (byte b in bytes)
        {
            s = Step(s, b);
            if (s == null)
            {
                return null;
            }
        }
        return s;
    }

    /// <summary>Whether <paramref name="bytes"/> is a whole sentence of the grammar.</summary>
    public bool Accepts(ReadOnlySpan<byte> bytes) => Step(Start, bytes)?.IsAccepting == true;

    /// <summary>
    /// The tokens allowed in <paramref name="state"/>, one bit per token id: those whose bytes the grammar takes from
    /// here, plus the end-of-generation tokens when the state is accepting. Cached per state.
    /// </summary>
    public ulong[] Mask(GrammarState state)
    {
        var mask = state.CachedMask;
        if (mask != null)
        {
            return mask;
        }
        mask = Vocabulary.Allowed(this, state);
        if (Interlocked.Increment(ref _cachedMasks) <= MaxCachedMasks)
        {
            state.CacheMask(mask);
        }
        return mask;
    }

    private GrammarState Compute(GrammarState state, byte b)
    {
        var next = new List<Frame?>();
        foreach (var frame in state.Stacks)
        {
            int set = _grammar.Elements[frame.Position];
            if (_grammar.Sets[set].Contains(b))
            {
                Close(new Frame(frame.Position + 1, frame.Parent), next, 0);
            }
        }
        return next.Count == 0 ? GrammarState.Dead : Intern(next);
    }

    /// <summary>Expands <paramref name="frame"/> until every stack waits on a terminal (or the root is complete: null).</summary>
    private void Close(Frame? frame, List<Frame?> into, int expansions)
    {
        if (expansions > 4 * MaxDepth)
        {
            throw new GrammarException("the grammar expands without reading a byte (an empty or left recursion)");
        }
        if (frame == null)
        {
            into.Add(null);
            return;
        }
        if (frame.Depth > MaxDepth)
        {
            throw new GrammarException($"the grammar nests more than {MaxDepth} deep");
        }
        int e = _grammar.Elements[frame.Position];
        if (e == Grammar.End)
        {
            Close(frame.Parent, into, expansions + 1);
        }
        else if (Grammar.IsRef(e, out int rule))
        {
            // a reference that ends its alternative returns straight to the parent (a tail call), so a
            // right-recursive repetition does not grow the stack
            var cont = _grammar.Elements[frame.Position + 1] == Grammar.End ? frame.Parent : new Frame(frame.Position + 1, frame.Parent);
            foreach (int alt in _grammar.Alternatives[rule])
            {
                Close(new Frame(alt, cont), into, expansions + 1);
            }
        }
        else
        {
            into.Add(frame);
        }
    }

    private GrammarState Intern(List<Frame?> stacks)
    {
        bool accepting = false;
        var set = new HashSet<Frame>();
        foreach (var f in stacks)
        {
            if (f == null)
            {
                accepting = true;
            }
            else
            {
                set.Add(f);
            }
        }
        var frames = set.ToArray();
        Array.Sort(frames, static (a, b) => a.Hash != b.Hash ? a.Hash.CompareTo(b.Hash) : a.Position.CompareTo(b.Position));
        var key = new StateKey(frames, accepting);
        lock (_lock)
        {
            if (_interned.TryGetValue(key, out var existing))
            {
                return existing;
            }
            ByteSet first = default;
            foreach (var f in frames)
            {
                first = first.Union(_grammar.Sets[_grammar.Elements[f.Position]]);
            }
            var state = new GrammarState(frames, accepting, first);
            _interned[key] = state;
            return state;
        }
    }

    private readonly struct StateKey(Frame[] frames, bool accepting) : IEquatable<StateKey>
    {
        private readonly Frame[] _frames = frames;
        private readonly bool _accepting = accepting;

        public bool Equals(StateKey other)
        {
            if (_accepting != other._accepting || _frames.Length != other._frames.Length)
            {
                return false;
            }
            // equal sets sort alike, except frames with equal hash and position in another order: rare, and
            // then the state is only interned twice
            for (int i = 0; i < _frames.Length; i++)
            {
                if (!_frames[i].Equals(other._frames[i]))
                {
                    return false;
                }
            }
            return true;
        }

        public override bool Equals(object? obj) => obj is StateKey k && Equals(k);

        public override int GetHashCode()
        {
            var h = new HashCode();
            h.Add(_accepting);
            foreach (var f in _frames)
            {
                h.Add(f.Hash);
            }
            return h.ToHashCode();
        }
    }
}
