using Sluice.Hosting.Metrics.Parsing;

namespace Sluice.Cli.Diagnosis;

/// <summary>Two scrapes some seconds apart: what changed between them (counters, histograms) and where the gauges stood.</summary>
internal sealed class MetricWindow(MetricSnapshot first, MetricSnapshot last, double seconds)
{
    public MetricSnapshot First => first;
    public MetricSnapshot Last => last;
    public double Seconds => seconds;

    /// <summary>How much a counter (summed over matching series) grew in the window; a restart between scrapes counts from 0.</summary>
    public double Delta(string name, params (string Label, string Value)[] match)
    {
        double a = first.Sum(name, match), b = last.Sum(name, match);
        return b >= a ? b - a : b;
    }

    /// <summary>A histogram's mean over the window (Δsum / Δcount), with the count; null mean when nothing was observed.</summary>
    public (double? Mean, double Count) Mean(string histogram)
    {
        double count = Delta(histogram + "_count");
        return (count > 0 ? Delta(histogram + "_sum") / count : null, count);
    }

    /// <summary>A gauge at the second scrape.</summary>
    public double Now(string name) => last.Sum(name);

    /// <summary>The larger and smaller of a gauge's two readings.</summary>
    public double Max(string name) => Math.Max(first.Sum(name), last.Sum(name));

    public double Min(string name) => Math.Min(first.Sum(name), last.Sum(name));
}
