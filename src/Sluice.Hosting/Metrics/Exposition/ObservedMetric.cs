namespace Sluice.Hosting.Metrics.Exposition;

/// <summary>One series' value, read at scrape time.</summary>
public readonly record struct Observation(double Value, params string[] LabelValues);

/// <summary>
/// A gauge or counter whose values are read when scraped (engine counters, memory, state), rather than
/// counted by the server as things happen.
/// </summary>
public sealed class ObservedMetric : MetricFamily
{
    private readonly Func<IEnumerable<Observation>> _read;

    public ObservedMetric(string name, string help, MetricType type, string[] labels, Func<IEnumerable<Observation>> read)
        : base(name, help, type is MetricType.Histogram ? throw new ArgumentException("an observed metric is a gauge or a counter") : type, labels)
    {
        _read = read;
    }

    /// <summary>An unlabelled gauge or counter.</summary>
    public static ObservedMetric Single(string name, string help, MetricType type, Func<double> read) =>
        new(name, help, type, [], () => [new Observation(read())]);

    private protected override void WriteSamples(ExpositionWriter writer)
    {
        foreach (var o in _read())
        {
            CheckArity(o.LabelValues);
            writer.Sample(Name, Descriptor.Labels, o.LabelValues, o.Value);
        }
    }
}
