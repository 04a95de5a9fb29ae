namespace Sluice.Cli.Benchmarking;

/// <summary>Mean and percentiles of a sample, in milliseconds; percentiles interpolate linearly as numpy's do.</summary>
internal sealed record LatencySummary(double Mean, double P50, double P90, double P99)
{
    public static LatencySummary FromSeconds(IEnumerable<double> seconds)
    {
        var sorted = seconds.Select(s => s * 1000).Order().ToArray();
        if (sorted.Length == 0)
        {
            return new(0, 0, 0, 0);
        }
        return new(sorted.Average(), Percentile(sorted, 50), Percentile(sorted, 90), Percentile(sorted, 99));
    }

    public static double Percentile(double[] sorted, double p)
    {
        double rank = p / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
