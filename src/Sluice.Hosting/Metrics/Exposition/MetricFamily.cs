namespace Sluice.Hosting.Metrics.Exposition;

/// <summary>A named metric with a fixed set of label names; each child series is one tuple of label values.</summary>
public abstract class MetricFamily
{
    protected MetricFamily(string name, string help, MetricType type, IReadOnlyList<string> labels, IReadOnlyList<double>? buckets = null)
    {
        if (string.IsNullOrEmpty(name) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':') || char.IsAsciiDigit(name[0]))
        {
            throw new ArgumentException($"'{name}' is not a valid metric name");
        }
        Descriptor = new MetricDescriptor(name, type, labels, buckets, help);
    }

    public MetricDescriptor Descriptor { get; }
    public string Name => Descriptor.Name;

    /// <summary>Writes the HELP and TYPE lines and every sample.</summary>
    internal void Write(ExpositionWriter writer)
    {
        writer.Header(Descriptor);
        WriteSamples(writer);
    }

    private protected abstract void WriteSamples(ExpositionWriter writer);

    protected void CheckArity(string[] values)
    {
        if (values.Length != Descriptor.Labels.Count)
        {
            throw new ArgumentException($"{Name} takes {Descriptor.Labels.Count} label values, not {values.Length}");
        }
    }
}
