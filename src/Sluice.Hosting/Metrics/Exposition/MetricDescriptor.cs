namespace Sluice.Hosting.Metrics.Exposition;

/// <summary>
/// One published metric family as the contract states it (docs/metrics.md): name, type, label names
/// and, for histograms, the bucket upper bounds (without +Inf).
/// </summary>
public sealed record MetricDescriptor(string Name, MetricType Type, IReadOnlyList<string> Labels, IReadOnlyList<double>? Buckets, string Help);
