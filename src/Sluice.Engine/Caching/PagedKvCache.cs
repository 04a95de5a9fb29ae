using Sluice.Engine.Memory;

namespace Sluice.Engine.Caching;

/// <summary>
/// The KV cache as one preallocated pool of fixed-size blocks (vLLM's paged layout). A sequence owns
/// a block table; position p of a sequence lives in block table[p / BlockSize], slot p % BlockSize.
/// Keys and values are stored per (layer, block, kv head) as BlockSize x HeadDim rows so attention
/// reads each block of each head contiguously.
/// </summary>
public sealed unsafe class PagedKvCache : IDisposable
{
    // K, V: (layers, blocks, kvHeads, blockSize, headDim) of ElementSize bytes each
    private byte* _k;
    private byte* _v;

    public PagedKvCache(int layers, int kvHeads, int headDim, int blockSize, int blocks, KvCacheType type)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        Layers = layers;
        KvHeads = kvHeads;
        HeadDim = headDim;
        BlockSize = blockSize;
        Blocks = blocks;
        Type = type;
        RowBytes = RowSize(headDim, type);
        nuint bytes = (nuint)BytesPerBlock(layers, kvHeads, headDim, blockSize, type) / 2 * (nuint)blocks;
        _k = (byte*)NativeAllocator.Allocate(bytes, 64, zero: false);
        _v = (byte*)NativeAllocator.Allocate(bytes, 64, zero: false);
        TotalBytes = (long)bytes * 2;
    }

    public int Layers { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public int BlockSize { get; }
    public int Blocks { get; }
    public KvCacheType Type { get; }
    /// <summary>Bytes of one slot's key (or value) row of HeadDim elements.</summary>
    public int RowBytes { get; }
    public long TotalBytes { get; }

    /// <summary>Bytes one block takes across all layers, keys and values together.</summary>
    public static long BytesPerBlock(int layers, int kvHeads, int headDim, int blockSize, KvCacheType type) =>
        2L * layers * kvHeads * blockSize * RowSize(headDim, type);

    private static int RowSize(int headDim, KvCacheType type) => type switch
    {
        KvCacheType.F16 => headDim * 2,
        KvCacheType.F32 => headDim * 4,
        _ when headDim % 32 != 0 => throw new ArgumentException($"a Q8_0 KV cache needs a head dimension that is a multiple of 32 (this model's is {headDim}); use f16"),
        _ => headDim / 32 * 34,
    };

    private long Offset(int layer, int block, int head, int slot) =>
        ((((long)layer * Blocks + block) * KvHeads + head) * BlockSize + slot) * RowBytes;

    /// <summary>Key row (HeadDim elements) of one slot.</summary>
    public byte* Key(int layer, int block, int head, int slot) => _k + Offset(layer, block, head, slot);

    public byte* Value(int layer, int block, int head, int slot) => _v + Offset(layer, block, head, slot);

    /// <summary>Copies one block's keys and values, every layer and head (copy-on-write of a shared partial block).</summary>
    public void CopyBlock(int source, int destination)
    {
        long bytes = (long)KvHeads * BlockSize * RowBytes;
        for (int l = 0; l < Layers; l++)
        {
            Buffer.MemoryCopy(Key(l, source, 0, 0), Key(l, destination, 0, 0), bytes, bytes);
            Buffer.MemoryCopy(Value(l, source, 0, 0), Value(l, destination, 0, 0), bytes, bytes);
        }
    }

    public void Dispose()
    {
        if (_k != null)
        {
            NativeAllocator.Free(_k);
            NativeAllocator.Free(_v);
            _k = _v = null;
        }
    }
}
