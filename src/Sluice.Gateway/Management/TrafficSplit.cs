using Sluice.Gateway.LoadBalancing;

namespace Sluice.Gateway.Management;

/// <summary>
/// A model's split across versions, in percent (adding up to 100), and its rollback targets: <see cref="Stable"/> is the
/// version that last held all traffic (rollback sends everything back to it), <see cref="Previous"/> the one before
/// (rolling back when the stable version already holds everything switches back to it, blue-green).
/// Immutable; the version rotation picks versions by the percentages, deterministically.
/// </summary>
public sealed class TrafficSplit
{
    private readonly string[] _versions;

    /// <summary>The versions to try, for each version the rotation can pick first (and, last, for no pick): computed once,
    /// as the split never changes (a change is a new split).</summary>
    private readonly string[][] _orders;

    public TrafficSplit(IReadOnlyDictionary<string, int> percent, string stable, string? previous, string? fileOrigin)
    {
        Percent = new Dictionary<string, int>(percent, StringComparer.Ordinal);
        Stable = stable;
        Previous = previous;
        FileOrigin = fileOrigin;
        _versions = [.. Percent.Keys.Order(StringComparer.Ordinal)];
        Rotation = new SmoothWeightedRoundRobin([.. _versions.Select(v => Percent[v])]);
        _orders = [.. Enumerable.Range(-1, _versions.Length + 1).Select(OrderAfter)];
    }

    public IReadOnlyDictionary<string, int> Percent { get; }
    public string Stable { get; }
    public string? Previous { get; }

    /// <summary>The file's split this one came from (a fingerprint), so a reload that leaves it unchanged keeps changes made over the API.</summary>
    public string? FileOrigin { get; }

    public SmoothWeightedRoundRobin Rotation { get; }

    /// <summary>The versions to try for one request: the rotation's pick first, then the others with traffic by share.</summary>
    public IReadOnlyList<string> Order() => _orders[Rotation.Next() + 1];

    private string[] OrderAfter(int first) =>
        [.. (first >= 0 ? [_versions[first]] : Array.Empty<string>()), .. _versions.Where((v, i) => i != first && Percent[v] > 0).OrderByDescending(v => Percent[v])];

    public bool AllOn(string version) => Percent.TryGetValue(version, out int p) && p == 100;

    public static string Fingerprint(IReadOnlyDictionary<string, int> percent) =>
        string.Join(",", percent.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"));

    /// <summary>The version with the most traffic (the first by name on a tie): the stable one of a file's split.</summary>
    public static string Largest(IReadOnlyDictionary<string, int> percent) =>
        percent.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).First().Key;
}
