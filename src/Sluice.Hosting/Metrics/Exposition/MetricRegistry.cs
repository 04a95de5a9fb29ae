using System.Text;

namespace Sluice.Hosting.Metrics.Exposition;

/// <summary>The metric families one host publishes, in the order they are written.</summary>
public sealed class MetricRegistry
{
    /// <summary>The Content-Type of <see cref="Render"/>'s text: Prometheus text format 0.0.4.</summary>
    public const string ContentType = ExpositionWriter.ContentType;

    private readonly List<MetricFamily> _families = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    public T Add<T>(T family)
        where T : MetricFamily
    {
        if (!_names.Add(family.Name))
        {
            throw new ArgumentException($"metric {family.Name} is registered twice");
        }
        _families.Add(family);
        return family;
    }

    /// <summary>The contract: every family's name, type, labels and buckets.</summary>
    public IReadOnlyList<MetricDescriptor> Descriptors => [.. _families.Select(f => f.Descriptor)];

    /// <summary>The whole exposition (text format 0.0.4).</summary>
    public string Render()
    {
        var sb = new StringBuilder(16 * 1024);
        var writer = new ExpositionWriter(sb);
        foreach (var family in _families)
        {
            family.Write(writer);
        }
        return sb.ToString();
    }
}
