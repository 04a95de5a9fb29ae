using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Sluice.Engine.Tokenization;

/// <summary>
/// Byte-level BPE over one pre-token, as llama.cpp does it: start from single bytes (in the
/// vocabulary's byte alphabet), repeatedly merge the adjacent pair with the lowest merge rank (ties:
/// the leftmost), and emit the pieces. Pairs are looked up by symbol id, so a merge step costs one
/// hash probe. Merge results missing from the vocabulary get ids past its end and, like llama.cpp,
/// are emitted as their single-character tokens where those exist. Results are cached per pre-token.
/// </summary>
internal sealed class BpeModel
{
    private const int MaxCachedWordLength = 128;
    private const int MaxCacheEntries = 200_000;

    private readonly Vocabulary _vocab;
    private readonly Dictionary<long, int> _rankByPair;
    private readonly int[] _mergedByRank;
    private readonly int[] _byteSymbols = new int[256];
    private readonly List<string> _extraTexts = [];
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;

    public BpeModel(Vocabulary vocab)
    {
        _vocab = vocab;
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        var extraIds = new Dictionary<string, int>(StringComparer.Ordinal);
        var merges = vocab.Merges;
        _rankByPair = new Dictionary<long, int>(merges.Length, PairKeyComparer.Instance);
        _mergedByRank = new int[merges.Length];
        Span<char> joined = stackalloc char[256];
        for (int rank = 0; rank < merges.Length; rank++)
        {
            string line = merges[rank];
            // as llama.cpp, a line without a space after its first character (or an empty one) merges nothing
            int space = line.Length > 1 ? line.IndexOf(' ', 1) : -1;
            if (space < 0)
            {
                continue;
            }
            var left = line.AsSpan(0, space);
            var right = line.AsSpan(space + 1);
            long key = PairKey(SymbolId(left, extraIds), SymbolId(right, extraIds));
            // The first (lowest-ranked) line for a pair wins, as with llama.cpp's map emplace.
            if (_rankByPair.TryAdd(key, rank))
            {
                Span<char> both = left.Length + right.Length <= joined.Length ? joined[..(left.Length + right.Length)] : new char[left.Length + right.Length];
                left.CopyTo(both);
                right.CopyTo(both[left.Length..]);
                _mergedByRank[rank] = SymbolId(both, extraIds);
            }
        }
        for (int b = 0; b < 256; b++)
        {
            _byteSymbols[b] = SymbolId([ByteLevel.Encode((byte)b)], extraIds);
        }
    }

    private static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    private int SymbolId(ReadOnlySpan<char> text, Dictionary<string, int> extraIds)
    {
        if (_vocab.TryGetId(text, out int id))
        {
            return id;
        }
        string s = text.ToString();
        if (!extraIds.TryGetValue(s, out id))
        {
            id = _vocab.Count + _extraTexts.Count;
            _extraTexts.Add(s);
            extraIds.Add(s, id);
        }
        return id;
    }

    /// <summary>Tokenizes one pre-token given as raw UTF-8 bytes and as its byte-alphabet spelling.</summary>
    public void EncodeWord(ReadOnlySpan<byte> bytes, ReadOnlySpan<char> spelled, List<int> output, BpeScratch s)
    {
        if (_vocab.IgnoreMerges && _vocab.TryGetId(spelled, out int whole))
        {
            output.Add(whole);
            return;
        }
        if (_cacheBySpan.TryGetValue(spelled, out var cached))
        {
            output.AddRange(cached);
            return;
        }
        int before = output.Count;
        Merge(bytes, output, s);
        if (spelled.Length <= MaxCachedWordLength)
        {
            if (_cache.Count >= MaxCacheEntries)
            {
                _cache.Clear();
            }
            _cacheBySpan.TryAdd(spelled, output.GetRange(before, output.Count - before).ToArray());
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Merge(ReadOnlySpan<byte> bytes, List<int> output, BpeScratch s)
    {
        int n = bytes.Length;
        s.Reset(n);
        var ids = s.Ids;
        for (int i = 0; i < n; i++)
        {
            ids[i] = _byteSymbols[bytes[i]];
            s.Prev[i] = i - 1;
            s.Next[i] = i + 1 < n ? i + 1 : -1;
        }
        for (int i = 1; i < n; i++)
        {
            TryAddPair(s, i - 1, i);
        }
        while (s.Queue.TryPop(out var pair))
        {
            int left = pair.Left;
            int right = pair.Right;
            // Stale entry: a side has merged since (its id changed) or been absorbed (id -1).
            if (ids[left] != pair.LeftId || ids[right] != pair.RightId)
            {
                continue;
            }
            ids[left] = pair.MergedId;
            ids[right] = -1;
            s.Next[left] = s.Next[right];
            if (s.Next[right] >= 0)
            {
                s.Prev[s.Next[right]] = left;
            }
            TryAddPair(s, s.Prev[left], left);
            TryAddPair(s, left, s.Next[left]);
        }
        for (int i = 0; i != -1; i = s.Next[i])
        {
            Emit(ids[i], output);
        }
    }

    private void TryAddPair(BpeScratch s, int left, int right)
    {
        if (left < 0 || right < 0)
        {
            return;
        }
        int leftId = s.Ids[left];
        int rightId = s.Ids[right];
        if (_rankByPair.TryGetValue(PairKey(leftId, rightId), out int rank))
        {
            s.Queue.Push((ulong)PairKey(rank, left), new BpePair(left, right, leftId, rightId, _mergedByRank[rank]));
        }
    }

    private void Emit(int id, List<int> output)
    {
        if (id < _vocab.Count)
        {
            output.Add(id);
            return;
        }
        // llama.cpp looks each UTF-8 byte of the spelling up as a one-byte text: only ASCII can match.
        foreach (char c in _extraTexts[id - _vocab.Count])
        {
            if (c < 0x80 && _vocab.TryGetId([c], out int single))
            {
                output.Add(single);
            }
        }
    }
}

internal readonly record struct BpePair(int Left, int Right, int LeftId, int RightId, int MergedId);

/// <summary>Reusable work arrays for one encode call at a time.</summary>
internal sealed class BpeScratch
{
    public int[] Ids = [];
    public int[] Prev = [];
    public int[] Next = [];
    public readonly MinHeap<BpePair> Queue = new();

    public void Reset(int capacity)
    {
        if (Ids.Length < capacity)
        {
            int size = Math.Max(capacity, 64);
            Ids = new int[size];
            Prev = new int[size];
            Next = new int[size];
        }
        Queue.Clear();
    }
}

/// <summary>
/// Hashes (left id, right id) keys by multiplication. long's own hash (high ^ low) sends every pair
/// with the same XOR of ids to one bucket, which made merge lookups crawl.
/// </summary>
internal sealed class PairKeyComparer : IEqualityComparer<long>
{
    public static readonly PairKeyComparer Instance = new();

    public bool Equals(long x, long y) => x == y;

    public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
}
