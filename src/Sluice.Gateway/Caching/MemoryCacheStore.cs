namespace Sluice.Gateway.Caching;

/// <summary>
/// The in-process store: a dictionary and a least-recently-used list under one lock (a lookup is a few hundred
/// nanoseconds of it, far below what a request costs), capped in bytes (max_size): storing past the cap evicts the
/// least recently used entries first (an entry counts its body and its prebuilt stream replay). An expired entry is
/// dropped when it is next looked up, or evicted as the oldest.
/// </summary>
internal sealed class MemoryCacheStore(long maxBytes, TimeProvider time, Action<string> evicted) : ICacheStore
{
    private sealed record Node(UInt128 Key, CachedAnswer Answer, long ExpiresAt);

    private readonly Lock _lock = new();
    private readonly Dictionary<UInt128, LinkedListNode<Node>> _entries = [];
    private readonly LinkedList<Node> _recent = new(); // most recently used first
    private long _bytes;

    public string Name => "memory";

    public (long Entries, long Bytes)? Size
    {
        get
        {
            lock (_lock)
            {
                return (_entries.Count, _bytes);
            }
        }
    }

    public ValueTask<CachedAnswer?> GetAsync(UInt128 key)
    {
        long now = time.GetTimestamp();
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var node))
            {
                return ValueTask.FromResult<CachedAnswer?>(null);
            }
            if (now >= node.Value.ExpiresAt)
            {
                Remove(node);
                evicted("expired");
                return ValueTask.FromResult<CachedAnswer?>(null);
            }
            _recent.Remove(node);
            _recent.AddFirst(node);
            return ValueTask.FromResult<CachedAnswer?>(node.Value.Answer);
        }
    }

    public ValueTask SetAsync(UInt128 key, CachedAnswer answer, TimeSpan ttl)
    {
        answer.Prepare(); // outside the lock; the size counted is what the entry holds
        long expires = time.GetTimestamp() + (long)(ttl.TotalSeconds * time.TimestampFrequency);
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var old))
            {
                Remove(old);
            }
            var node = _recent.AddFirst(new Node(key, answer, expires));
            _entries[key] = node;
            _bytes += answer.Size;
            while (_bytes > maxBytes && _recent.Last is { } last && last != node)
            {
                Remove(last);
                evicted("size");
            }
        }
        return ValueTask.CompletedTask;
    }

    public Task<long> FlushAsync()
    {
        lock (_lock)
        {
            long n = _entries.Count;
            _entries.Clear();
            _recent.Clear();
            _bytes = 0;
            return Task.FromResult(n);
        }
    }

    private void Remove(LinkedListNode<Node> node)
    {
        _recent.Remove(node);
        _entries.Remove(node.Value.Key);
        _bytes -= node.Value.Answer.Size;
    }
}
