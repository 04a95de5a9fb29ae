using System.Runtime.CompilerServices;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// A vocabulary as a trie of the tokens' bytes, so a grammar state's token mask is one walk that drops a whole
/// subtree at the first byte the grammar refuses (inside a JSON string most of the vocabulary is walked; after a
/// <c>{</c> almost none of it). Tokens are byte-level pieces: a token may end mid-character or cross from one
/// grammar element into the next, and the walk handles both because it steps the grammar a byte at a time. Tokens
/// with no bytes (control tokens) are left out; end-of-generation tokens are allowed exactly in accepting states.
/// </summary>
public sealed class TokenTrie
{
    private static readonly ConditionalWeakTable<Tokenizer, TokenTrie> ForTokenizer = [];

    // node n's children are _child[_firstChild[n] .. _firstChild[n + 1]) labelled by _label; the tokens ending at n
    // are _tokens[_firstToken[n] .. _firstToken[n + 1]); node 0 is the root
    private readonly int[] _firstChild;
    private readonly int[] _child;
    private readonly byte[] _label;
    private readonly int[] _firstToken;
    private readonly int[] _tokens;
    private readonly int[] _endOfGeneration;

    public TokenTrie(int vocabSize, Func<int, byte[]?> bytesOf, IEnumerable<int> endOfGeneration)
    {
        VocabSize = vocabSize;
        _endOfGeneration = [.. endOfGeneration];
        var children = new List<Dictionary<byte, int>> { new() };
        var ends = new List<List<int>?> { null };
        for (int id = 0; id < vocabSize; id++)
        {
            var bytes = bytesOf(id);
            if (bytes is null || bytes.Length == 0)
            {
                continue;
            }
            int node = 0;
            foreach (byte b in bytes)
            {
                if (!children[node].TryGetValue(b, out int next))
                {
                    next = children.Count;
                    children.Add([]);
                    ends.Add(null);
                    children[node][b] = next;
                }
                node = next;
            }
            (ends[node] ??= []).Add(id);
        }
        int nodes = children.Count;
        _firstChild = new int[nodes + 1];
        _firstToken = new int[nodes + 1];
        var child = new List<int>();
        var label = new List<byte>();
        var tokens = new List<int>();
        for (int n = 0; n < nodes; n++)
        {
            _firstChild[n] = child.Count;
            foreach (var (b, c) in children[n].OrderBy(kv => kv.Key))
            {
                label.Add(b);
                child.Add(c);
            }
            _firstToken[n] = tokens.Count;
            if (ends[n] is { } list)
            {
                tokens.AddRange(list);
            }
        }
        _firstChild[nodes] = child.Count;
        _firstToken[nodes] = tokens.Count;
        _child = [.. child];
        _label = [.. label];
        _tokens = [.. tokens];
        Nodes = nodes;
    }

    /// <summary>The trie of a tokenizer's vocabulary, built once per tokenizer.</summary>
    public static TokenTrie For(Tokenizer tokenizer) => ForTokenizer.GetValue(tokenizer, static t => new TokenTrie(
        t.VocabSize,
        id => t.TokenType(id) is TokenType.Control or TokenType.Unknown or TokenType.Unused ? null : t.TokenBytes(id),
        t.EndOfGenerationIds));

    public int VocabSize { get; }
    public int Nodes { get; }
    public IReadOnlyList<int> EndOfGeneration => _endOfGeneration;

    /// <summary>Words of a mask over this vocabulary.</summary>
    public int MaskWords => (VocabSize + 63) / 64;

    internal ulong[] Allowed(GrammarMatcher matcher, GrammarState state)
    {
        var mask = new ulong[MaskWords];
        if (state.IsAccepting)
        {
            foreach (int id in _endOfGeneration)
            {
                mask[id >> 6] |= 1UL << (id & 63);
            }
        }
        var stack = new Stack<(int Node, GrammarState State)>();
        stack.Push((0, state));
        while (stack.Count > 0)
        {
            var (node, s) = stack.Pop();
            for (int t = _firstToken[node]; t < _firstToken[node + 1]; t++)
            {
                int id = _tokens[t];
                mask[id >> 6] |= 1UL << (id & 63);
            }
            for (int c = _firstChild[node]; c < _firstChild[node + 1]; c++)
            {
                var next = matcher.Step(s, _label[c]);
                if (next != null)
                {
                    stack.Push((_child[c], next));
                }
            }
        }
        return mask;
    }
}
