namespace Sluice.Server.Metrics;

/// <summary>What GET /metrics publishes. The contract (names, types, labels, default buckets) is docs/metrics.md.</summary>
public sealed record MetricsOptions
{
    /// <summary>--metrics-compat: none (default) or vllm.</summary>
    public MetricsCompat Compat { get; init; } = MetricsCompat.None;

    /// <summary>--metrics-buckets NAME=B1,B2,...: bucket upper bounds per histogram family, replacing its defaults.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<double>> Buckets { get; init; } = new Dictionary<string, IReadOnlyList<double>>();

    internal IReadOnlyList<double> BucketsOf(string family, IReadOnlyList<double> defaults) =>
        Buckets.TryGetValue(family, out var b) ? b : defaults;

    /// <summary>Parses one --metrics-buckets value, e.g. <c>sluice_inter_token_latency_seconds=0.001,0.005,0.01</c>.</summary>
    public static KeyValuePair<string, IReadOnlyList<double>> ParseBuckets(string value)
    {
        int eq = value.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new FormatException($"--metrics-buckets '{value}': use NAME=B1,B2,... (e.g. sluice_time_to_first_token_seconds=0.1,0.5,1,5)");
        }
        var bounds = new List<double>();
        foreach (var part in value[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double b) || !double.IsFinite(b))
            {
                throw new FormatException($"--metrics-buckets '{value}': '{part}' is not a number");
            }
            bounds.Add(b);
        }
        if (bounds.Count == 0 || bounds.Zip(bounds.Skip(1)).Any(p => p.Second <= p.First))
        {
            throw new FormatException($"--metrics-buckets '{value}': give at least one bound, strictly increasing");
        }
        return new(value[..eq].Trim(), bounds);
    }
}
