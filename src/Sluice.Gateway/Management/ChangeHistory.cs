namespace Sluice.Gateway.Management;

/// <summary>One change of routing: when, from where (file or api), who (the key id, or the file), what, and the traffic before and after.</summary>
public sealed record ChangeRecord(DateTimeOffset Time, string Source, string Actor, string? Model, string Action, string Detail,
    IReadOnlyDictionary<string, int>? Before, IReadOnlyDictionary<string, int>? After);

/// <summary>Every routing change since start, newest last, bounded to <see cref="Capacity"/>. Thread-safe.</summary>
public sealed class ChangeHistory
{
    public const int Capacity = 1000;

    private readonly Queue<ChangeRecord> _records = new();

    public void Add(ChangeRecord record)
    {
        lock (_records)
        {
            if (_records.Count == Capacity)
            {
                _records.Dequeue();
            }
            _records.Enqueue(record);
        }
    }

    public IReadOnlyList<ChangeRecord> All()
    {
        lock (_records)
        {
            return [.. _records];
        }
    }
}
