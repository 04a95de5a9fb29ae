using System.Text;
using Microsoft.Extensions.Time.Testing;
using Sluice.Gateway.Caching;

namespace Sluice.Gateway.Tests.Caching;

public sealed class MemoryCacheStoreTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly List<string> _evicted = [];

    private static CachedAnswer Answer(int bytes) =>
        new(Encoding.UTF8.GetBytes($$"""{"id":"c","choices":[{"index":0,"text":"{{new string('x', bytes)}}","finish_reason":"stop"}]}"""), false, 1, 1, default, 0);

    private static long SizeOf(CachedAnswer answer)
    {
        answer.Prepare();
        return answer.Size;
    }

    [Fact]
    public async Task Entry_PastItsTtl_IsAMissAndCountedExpired()
    {
        var store = new MemoryCacheStore(1 << 20, _time, _evicted.Add);
        await store.SetAsync(1, Answer(10), TimeSpan.FromMinutes(10));

        _time.Advance(TimeSpan.FromMinutes(9));
        Assert.NotNull(await store.GetAsync(1));
        _time.Advance(TimeSpan.FromMinutes(1));

        Assert.Null(await store.GetAsync(1));
        Assert.Equal(["expired"], _evicted);
        Assert.Equal((0, 0), store.Size!.Value);
    }

    [Fact]
    public async Task StoringPastMaxSize_EvictsTheLeastRecentlyUsed()
    {
        long entry = SizeOf(Answer(100));
        Assert.True(entry > 2 * 100, $"{entry}: the body and its stream replay are counted");
        var store = new MemoryCacheStore(3 * entry, _time, _evicted.Add);
        await store.SetAsync(1, Answer(100), TimeSpan.FromHours(1));
        await store.SetAsync(2, Answer(100), TimeSpan.FromHours(1));
        await store.SetAsync(3, Answer(100), TimeSpan.FromHours(1));
        Assert.NotNull(await store.GetAsync(1)); // 2 is now the least recently used

        await store.SetAsync(4, Answer(100), TimeSpan.FromHours(1));

        Assert.Null(await store.GetAsync(2));
        Assert.NotNull(await store.GetAsync(1));
        Assert.NotNull(await store.GetAsync(3));
        Assert.NotNull(await store.GetAsync(4));
        Assert.Equal(["size"], _evicted);
        Assert.Equal((3, 3 * entry), store.Size!.Value);
    }

    [Fact]
    public async Task Flush_RemovesEveryEntryAndSaysHowMany()
    {
        var store = new MemoryCacheStore(1 << 20, _time, _evicted.Add);
        await store.SetAsync(1, Answer(10), TimeSpan.FromHours(1));
        await store.SetAsync(2, Answer(10), TimeSpan.FromHours(1));

        Assert.Equal(2, await store.FlushAsync());
        Assert.Null(await store.GetAsync(1));
        Assert.Equal((0, 0), store.Size!.Value);
    }

    [Fact]
    public void CachedAnswer_SerializedForRedis_ReadsBackTheSame()
    {
        var answer = new CachedAnswer("""{"id":"a"}"""u8.ToArray(), true, 12, 34, new Sluice.Gateway.Tenancy.Spend.Price(5, 7), 1234567);

        var read = CachedAnswer.Deserialize(answer.Serialize())!;

        Assert.Equal(answer.Body, read.Body);
        Assert.Equal((true, 12L, 34L, 5L, 7L, 1234567L), (read.Chat, read.PromptTokens, read.CompletionTokens, read.Price.InputPico, read.Price.OutputPico, read.StoredAtMs));
        Assert.Null(CachedAnswer.Deserialize("not an entry"u8));
    }
}
