namespace Sluice.Gateway.LoadBalancing;

/// <summary>
/// nginx's smooth weighted round robin over a fixed list of weights: over any run of sum(weights) picks each item is
/// picked exactly its weight's times, interleaved (5,1,1 gives a a b a c a a, not a a a a a b c). Deterministic, so a
/// 10% canary gets exactly one request in ten. Picks may be restricted to a subset (the available ones). Thread-safe.
/// </summary>
public sealed class SmoothWeightedRoundRobin(IReadOnlyList<int> weights)
{
    private readonly long[] _current = new long[weights.Count];
    private readonly Lock _lock = new();

    public int Count => weights.Count;

    /// <summary>The next item among those <paramref name="allowed"/> says yes to with a weight above 0; -1 when none.</summary>
    public int Next(Func<int, bool>? allowed = null)
    {
        lock (_lock)
        {
            long total = 0;
            int best = -1;
            for (int i = 0; i < _current.Length; i++)
            {
                if (weights[i] <= 0 || (allowed is not null && !allowed(i)))
                {
                    continue;
                }
                _current[i] += weights[i];
                total += weights[i];
                if (best < 0 || _current[i] > _current[best])
                {
                    best = i;
                }
            }
            if (best >= 0)
            {
                _current[best] -= total;
            }
            return best;
        }
    }
}
