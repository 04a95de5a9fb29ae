using System.Collections.Concurrent;

namespace Sluice.Hosting.Metrics.Exposition;

/// <summary>A counter incremented by the server (whole numbers). Thread-safe.</summary>
public sealed class Counter(string name, string help, params string[] labels) : MetricFamily(name, help, MetricType.Counter, labels)
{
    private sealed class Cell
    {
        public long Value;
    }

    private readonly ConcurrentDictionary<LabelKey, Cell> _cells = new();

    public void Increment(params string[] labelValues) => Add(1, labelValues);

    public void Add(long amount, params string[] labelValues)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        CheckArity(labelValues);
        Interlocked.Add(ref _cells.GetOrAdd(new LabelKey(labelValues), _ => new Cell()).Value, amount);
    }

    /// <summary>Makes a series visible at zero before anything is counted in it.</summary>
    public void Touch(params string[] labelValues)
    {
        CheckArity(labelValues);
        _cells.GetOrAdd(new LabelKey(labelValues), _ => new Cell());
    }

    public long Value(params string[] labelValues) =>
        _cells.TryGetValue(new LabelKey(labelValues), out var cell) ? Interlocked.Read(ref cell.Value) : 0;

    private protected override void WriteSamples(ExpositionWriter writer)
    {
        foreach (var (key, cell) in _cells.OrderBy(c => c.Key.Values, LabelOrder.Instance))
        {
            writer.Sample(Name, Descriptor.Labels, key.Values, Interlocked.Read(ref cell.Value));
        }
    }
}
