using Sluice.Engine.Caching;
using Sluice.Engine.Kernels;
using Sluice.Engine.Models;
using Sluice.Engine.Tests.Support;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Tests.Caching;

/// <summary>
/// The pool's layout, (layers, blocks, kvHeads, blockSize, headDim) for keys and again for values, and where a
/// sequence's positions land in it through its block table.
/// </summary>
public sealed unsafe class PagedKvCacheTests
{
    [Theory]
    [InlineData(KvCacheType.F16, 128, 6144)]
    [InlineData(KvCacheType.F32, 256, 12288)]
    [InlineData(KvCacheType.Q8_0, 68, 3264)]
    public void BytesPerBlock_EachType_IsKeysAndValuesOfEveryLayerHeadAndSlot(KvCacheType type, int rowBytes, long perBlock)
    {
        // 2 layers, 3 KV heads, head dimension 64, 4 slots a block; Q8_0 rows are 2 blocks of 34 bytes
        Assert.Equal(perBlock, PagedKvCache.BytesPerBlock(2, 3, 64, 4, type));
        using var cache = new PagedKvCache(2, 3, 64, 4, 5, type);
        Assert.Equal(rowBytes, cache.RowBytes);
        Assert.Equal(5 * perBlock, cache.TotalBytes);
    }

    [Fact]
    public void BytesPerBlock_QuantizedRowsOfAHeadDimensionNotAMultipleOf32_AreRefused()
    {
        var ex = Assert.Throws<ArgumentException>(() => PagedKvCache.BytesPerBlock(2, 3, 48, 4, KvCacheType.Q8_0));
        Assert.Equal("a Q8_0 KV cache needs a head dimension that is a multiple of 32 (this model's is 48); use f16", ex.Message);
    }

    [Fact]
    public void Key_EachCoordinate_AddressesRowsOfSlotsThenHeadsThenBlocksThenLayers()
    {
        // 2 layers, 5 blocks, 3 KV heads, 4 slots, F32 rows of 8: 32 bytes
        using var cache = new PagedKvCache(2, 3, 8, 4, 5, KvCacheType.F32);
        long Key(int layer, int block, int head, int slot) => cache.Key(layer, block, head, slot) - cache.Key(0, 0, 0, 0);
        long Value(int layer, int block, int head, int slot) => cache.Value(layer, block, head, slot) - cache.Value(0, 0, 0, 0);

        Assert.Equal(32, Key(0, 0, 0, 1));
        Assert.Equal(4 * 32, Key(0, 0, 1, 0));
        Assert.Equal(3 * 4 * 32, Key(0, 1, 0, 0));
        Assert.Equal(5 * 3 * 4 * 32, Key(1, 0, 0, 0));
        Assert.Equal((((((1 * 5) + 2) * 3) + 1) * 4 + 3) * 32, Key(1, 2, 1, 3));
        Assert.Equal(Key(1, 2, 1, 3), Value(1, 2, 1, 3));
        // the last row ends where the keys' (or the values') half of the pool does
        Assert.Equal(cache.TotalBytes / 2, Key(1, 4, 2, 3) + cache.RowBytes);
        Assert.Equal(cache.TotalBytes / 2, Value(1, 4, 2, 3) + cache.RowBytes);
    }

    [Fact]
    public void CopyBlock_OneBlock_CopiesItsKeysAndValuesInEveryLayerAndHeadAndNothingElse()
    {
        using var cache = new PagedKvCache(2, 3, 8, 4, 5, KvCacheType.F32);
        Fill(cache, (layer, block, head, slot, i) => (byte)((layer * 50) + (block * 10) + (head * 3) + slot + i));

        cache.CopyBlock(1, 3);

        ForEachRow(cache, (layer, block, head, slot) =>
        {
            int from = block == 3 ? 1 : block;
            for (int i = 0; i < cache.RowBytes; i++)
            {
                byte expected = (byte)((layer * 50) + (from * 10) + (head * 3) + slot + i);
                Assert.Equal(expected, cache.Key(layer, block, head, slot)[i]);
                Assert.Equal((byte)~expected, cache.Value(layer, block, head, slot)[i]);
            }
        });
    }

    [Fact]
    public void Forward_APromptThroughABlockTable_WritesPositionPToBlockTableOfPOverBlockSizeAtSlotPModBlockSize()
    {
        using var model = TestModels.LoadTiny();
        var c = model.Config;
        using var pool = new WorkerPool(1);
        using var transformer = new Transformer(model.Weights, pool);
        using var cache = new PagedKvCache(c.BlockCount, c.HeadCountKv, c.HeadDim, blockSize: 4, blocks: 6, KvCacheType.F32);
        using var logits = new NativeBuffer<float>(c.VocabSize); // (1, vocab)
        const byte Untouched = 0xAB;
        Fill(cache, (_, _, _, _, _) => Untouched);
        int[] prompt = [5, 17, 33, 2, 90, 41];

        // the same six positions through two block tables: [3, 1] and [0, 4]
        foreach (int[] table in new[] { new[] { 3, 1 }, new[] { 0, 4 } })
        {
            var batch = new ForwardBatch(prompt.Length);
            for (int p = 0; p < prompt.Length; p++)
            {
                batch.Add(prompt[p], p, table, wantLogits: p == prompt.Length - 1);
            }
            transformer.Forward(batch, cache, logits.Pointer);
        }

        // written: every slot of blocks 3 and 0 (positions 0-3), slots 0-1 of blocks 1 and 4 (positions 4-5)
        ForEachRow(cache, (layer, block, head, slot) =>
        {
            bool written = block is 0 or 3 || (block is 1 or 4 && slot < 2);
            Assert.Equal(!written, IsUntouched(cache.Key(layer, block, head, slot), cache.RowBytes, Untouched));
            Assert.Equal(!written, IsUntouched(cache.Value(layer, block, head, slot), cache.RowBytes, unchecked((byte)~Untouched)));
        });
        // and a position's keys and values are the same whichever block holds it
        ForEachRow(cache, (layer, block, head, slot) =>
        {
            if (block is 3 || (block is 1 && slot < 2))
            {
                int other = block == 3 ? 0 : 4;
                Assert.True(new ReadOnlySpan<byte>(cache.Key(layer, block, head, slot), cache.RowBytes)
                    .SequenceEqual(new ReadOnlySpan<byte>(cache.Key(layer, other, head, slot), cache.RowBytes)));
                Assert.True(new ReadOnlySpan<byte>(cache.Value(layer, block, head, slot), cache.RowBytes)
                    .SequenceEqual(new ReadOnlySpan<byte>(cache.Value(layer, other, head, slot), cache.RowBytes)));
            }
        });
    }

    private static bool IsUntouched(byte* row, int bytes, byte value) => new ReadOnlySpan<byte>(row, bytes).IndexOfAnyExcept(value) < 0;

    /// <summary>Writes f(layer, block, head, slot, byte index) into every key byte and its complement into every value byte.</summary>
    private static void Fill(PagedKvCache cache, Func<int, int, int, int, int, byte> f) =>
        ForEachRow(cache, (layer, block, head, slot) =>
        {
            for (int i = 0; i < cache.RowBytes; i++)
            {
                byte b = f(layer, block, head, slot, i);
                cache.Key(layer, block, head, slot)[i] = b;
                cache.Value(layer, block, head, slot)[i] = (byte)~b;
            }
        });

    private static void ForEachRow(PagedKvCache cache, Action<int, int, int, int> action)
    {
        for (int layer = 0; layer < cache.Layers; layer++)
        {
            for (int block = 0; block < cache.Blocks; block++)
            {
                for (int head = 0; head < cache.KvHeads; head++)
                {
                    for (int slot = 0; slot < cache.BlockSize; slot++)
                    {
                        action(layer, block, head, slot);
                    }
                }
            }
        }
    }
}
