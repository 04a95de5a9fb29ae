namespace Sluice.Hosting.Metrics.Exposition;

/// <summary>A child series' label values, usable as a dictionary key.</summary>
internal readonly struct LabelKey(string[] values) : IEquatable<LabelKey>
{
    public string[] Values { get; } = values;

    public bool Equals(LabelKey other) => Values.AsSpan().SequenceEqual(other.Values);

    public override bool Equals(object? obj) => obj is LabelKey k && Equals(k);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var v in Values)
        {
            hash.Add(v, StringComparer.Ordinal);
        }
        return hash.ToHashCode();
    }
}
