using System.Collections.Concurrent;

namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// Compiled grammars by their source (a schema's text, a choice list...), so requests with the same schema share one
/// matcher and its cached masks. Bounded: past <see cref="Capacity"/> entries it starts again empty.
/// </summary>
public sealed class GrammarCache(int capacity = 64)
{
    private readonly ConcurrentDictionary<(string Key, TokenTrie Vocabulary), GrammarMatcher> _matchers = new();

    public int Capacity { get; } = capacity;

    public int Count => _matchers.Count;

    /// <summary>The matcher for <paramref name="key"/> over <paramref name="vocabulary"/>, compiled by <paramref name="compile"/> on a miss.</summary>
    public GrammarMatcher Get(string key, TokenTrie vocabulary, Func<Grammar> compile)
    {
        if (_matchers.TryGetValue((key, vocabulary), out var matcher))
        {
            return matcher;
        }
        matcher = new GrammarMatcher(compile(), vocabulary);
        if (_matchers.Count >= Capacity)
        {
            _matchers.Clear();
        }
        return _matchers.GetOrAdd((key, vocabulary), matcher);
    }
}
