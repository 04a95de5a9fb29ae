using System.Collections.Concurrent;

namespace Sluice.Hosting.Metrics.Exposition;

/// <summary>A cumulative histogram with fixed upper bounds (+Inf implied). Thread-safe.</summary>
public sealed class Histogram : MetricFamily
{
    private sealed class Cell(int buckets)
    {
        public readonly long[] Counts = new long[buckets + 1]; // per bucket, not cumulative; the last is +Inf
        public double Sum;
        public long Count;
    }

    private readonly double[] _bounds;
    private readonly ConcurrentDictionary<LabelKey, Cell> _cells = new();

    public Histogram(string name, string help, IReadOnlyList<double> buckets, params string[] labels)
        : base(name, help, MetricType.Histogram, labels, Validate(name, buckets))
    {
        _bounds = [.. buckets];
        if (labels.Contains("le"))
        {
            throw new ArgumentException($"{name}: 'le' is reserved for buckets");
        }
    }

    public void Observe(double value, params string[] labelValues)
    {
        var cell = CellOf(labelValues);
        lock (cell)
        {
            Add(cell, value);
        }
    }

    /// <summary>Many observations into one series under one lock (e.g. every inter-token gap of a request).</summary>
    public void ObserveAll(IReadOnlyList<double> values, params string[] labelValues)
    {
        if (values.Count == 0)
        {
            return;
        }
        var cell = CellOf(labelValues);
        lock (cell)
        {
            foreach (var v in values)
            {
                Add(cell, v);
            }
        }
    }

    /// <summary>Makes a series visible (all zeros) before anything is observed in it.</summary>
    public void Touch(params string[] labelValues) => CellOf(labelValues);

    /// <summary>Count and sum of one series.</summary>
    public (long Count, double Sum) Totals(params string[] labelValues)
    {
        if (!_cells.TryGetValue(new LabelKey(labelValues), out var cell))
        {
            return (0, 0);
        }
        lock (cell)
        {
            return (cell.Count, cell.Sum);
        }
    }

    private Cell CellOf(string[] labelValues)
    {
        CheckArity(labelValues);
        return _cells.GetOrAdd(new LabelKey(labelValues), static (_, buckets) => new Cell(buckets), _bounds.Length);
    }

    private void Add(Cell cell, double value)
    {
        if (double.IsNaN(value))
        {
            return;
        }
        int i = Array.BinarySearch(_bounds, value);
        cell.Counts[i >= 0 ? i : ~i]++; // le is inclusive: an exact match lands in its own bucket
        cell.Sum += value;
        cell.Count++;
    }

    private protected override void WriteSamples(ExpositionWriter writer)
    {
        var labels = Descriptor.Labels.Append("le").ToArray();
        foreach (var (key, cell) in _cells.OrderBy(c => c.Key.Values, LabelOrder.Instance))
        {
            long[] counts;
            double sum;
            long count;
            lock (cell)
            {
                counts = (long[])cell.Counts.Clone();
                sum = cell.Sum;
                count = cell.Count;
            }
            long cumulative = 0;
            for (int b = 0; b <= _bounds.Length; b++)
            {
                cumulative += counts[b];
                string le = b < _bounds.Length ? ExpositionWriter.Number(_bounds[b]) : "+Inf";
                writer.Sample(Name + "_bucket", labels, [.. key.Values, le], cumulative);
            }
            writer.Sample(Name + "_sum", Descriptor.Labels, key.Values, sum);
            writer.Sample(Name + "_count", Descriptor.Labels, key.Values, count);
        }
    }

    private static IReadOnlyList<double> Validate(string name, IReadOnlyList<double> buckets)
    {
        if (buckets.Count == 0)
        {
            throw new ArgumentException($"{name}: a histogram needs at least one bucket");
        }
        for (int i = 0; i < buckets.Count; i++)
        {
            if (!double.IsFinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
            {
                throw new ArgumentException($"{name}: bucket bounds must be finite and strictly increasing ({string.Join(", ", buckets)})");
            }
        }
        return [.. buckets];
    }
}
