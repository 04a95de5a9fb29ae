namespace Sluice.Engine.Caching;

/// <summary>
/// Owns the KV block pool: reference counts, an O(1) free list, and the prefix cache. A block whose
/// count drops to zero joins the tail of the free list but keeps its cached content; allocation takes
/// from the head, so the least recently released cached block is evicted first (LRU). A cached block
/// found again is taken back out of the free list. Single-threaded: the engine loop owns it.
/// </summary>
public sealed class BlockManager
{
    private readonly int[] _refCount;
    private readonly UInt128[] _hash;
    private readonly bool[] _hashed;
    private readonly int[] _prev;
    private readonly int[] _next;
    private readonly Dictionary<UInt128, int> _cached = [];
    private int _head = -1;
    private int _tail = -1;

    public BlockManager(int blocks, int blockSize, bool enablePrefixCaching)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        Blocks = blocks;
        BlockSize = blockSize;
        PrefixCaching = enablePrefixCaching;
        _refCount = new int[blocks];
        _hash = new UInt128[blocks];
        _hashed = new bool[blocks];
        _prev = new int[blocks];
        _next = new int[blocks];
        for (int b = 0; b < blocks; b++)
        {
            Append(b);
        }
    }

    public int Blocks { get; }
    public int BlockSize { get; }
    public bool PrefixCaching { get; }

    /// <summary>Blocks no sequence holds (cached ones included: they are evictable).</summary>
    public int FreeBlocks { get; private set; }

    /// <summary>Fraction of blocks held by sequences.</summary>
    public double Usage => 1.0 - (double)FreeBlocks / Blocks;

    /// <summary>Full blocks currently findable by content.</summary>
    public int CachedBlocks => _cached.Count;

    public int RefCount(int block) => _refCount[block];

    public bool CanAllocate(int count) => FreeBlocks >= count;

    /// <summary>Takes the least recently released free block (evicting its cached content); refcount becomes 1.</summary>
    public int Allocate()
    {
        if (_head < 0)
        {
            throw new InvalidOperationException("no free KV blocks");
        }
        int b = _head;
        Unlink(b);
        if (_hashed[b])
        {
            _cached.Remove(_hash[b]);
            _hashed[b] = false;
        }
        _refCount[b] = 1;
        return b;
    }

    /// <summary>Drops one reference; at zero the block becomes free (still cached until evicted).</summary>
    public void Release(int block)
    {
        if (_refCount[block] <= 0)
        {
            throw new InvalidOperationException($"KV block {block} released more times than taken");
        }
        if (--_refCount[block] == 0)
        {
            Append(block);
        }
    }

    /// <summary>Adds a reference to a held block (a forked sequence sharing it).</summary>
    public void Share(int block)
    {
        if (_refCount[block] <= 0)
        {
            throw new InvalidOperationException($"KV block {block} is not held");
        }
        _refCount[block]++;
    }

    /// <summary>Looks a full block up by content; on a hit takes a reference to it.</summary>
    public bool TryReuse(UInt128 hash, out int block)
    {
        if (!PrefixCaching || !_cached.TryGetValue(hash, out block))
        {
            block = -1;
            return false;
        }
        if (_refCount[block]++ == 0)
        {
            Unlink(block);
        }
        return true;
    }

    /// <summary>Makes a just-filled block findable by content (first writer wins on duplicates).</summary>
    public void Register(int block, UInt128 hash)
    {
        if (!PrefixCaching || _hashed[block] || _cached.ContainsKey(hash))
        {
            return;
        }
        _cached[hash] = block;
        _hash[block] = hash;
        _hashed[block] = true;
    }

    /// <summary>Forgets all cached content (blocks stay where they are).</summary>
    public void ResetPrefixCache()
    {
        foreach (var b in _cached.Values)
        {
            _hashed[b] = false;
        }
        _cached.Clear();
    }

    private void Append(int b)
    {
        _prev[b] = _tail;
        _next[b] = -1;
        if (_tail >= 0)
        {
            _next[_tail] = b;
        }
        else
        {
            _head = b;
        }
        _tail = b;
        FreeBlocks++;
    }

    private void Unlink(int b)
    {
        if (_prev[b] >= 0)
        {
            _next[_prev[b]] = _next[b];
        }
        else
        {
            _head = _next[b];
        }
        if (_next[b] >= 0)
        {
            _prev[_next[b]] = _prev[b];
        }
        else
        {
            _tail = _prev[b];
        }
        FreeBlocks--;
    }
}
