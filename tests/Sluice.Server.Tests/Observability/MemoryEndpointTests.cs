using System.Text.Json;
using Sluice.Server.Observability;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Observability;

/// <summary>GET /debug/memory and POST /admin/gc.</summary>
public sealed class MemoryEndpointTests
{
    [Fact]
    public async Task DebugMemory_ReportsHeapModelAndKvPool_AndAdminGcCollects()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { ApiKeys = ["sk-d"] }, hooks: SluiceObservability.Hooks(new ObservabilityOptions()));
        using var doc = JsonDocument.Parse(await t.Client.GetStringAsync("/debug/memory"));
        var m = doc.RootElement;
        Assert.True(m.GetProperty("process").GetProperty("resident_bytes").GetInt64() > 0);
        Assert.True(m.GetProperty("process").GetProperty("limit_bytes").GetInt64() > 0);
        Assert.True(m.GetProperty("managed_heap").GetProperty("heap_bytes").GetInt64() > 0);
        Assert.Equal(GC.MaxGeneration + 1, m.GetProperty("managed_heap").GetProperty("collections").GetArrayLength());
        var model = m.GetProperty("model");
        Assert.Equal(new FileInfo(TestModels.TinyFile).Length, model.GetProperty("file_bytes").GetInt64());
        Assert.True(model.GetProperty("weights_bytes").GetInt64() > 0);
        Assert.True(model.GetProperty("mapped_resident_bytes").GetInt64() >= 0);
        var kv = m.GetProperty("kv_cache");
        Assert.Equal(t.Engine.KvCacheBytes, kv.GetProperty("bytes").GetInt64());
        Assert.Equal(t.Engine.KvBlocks, kv.GetProperty("blocks_free").GetInt32());

        int gen2 = GC.CollectionCount(2);
        var gc = await t.Client.PostAsync("/admin/gc", null);
        Assert.True(gc.IsSuccessStatusCode);
        using var report = JsonDocument.Parse(await gc.Content.ReadAsStringAsync());
        Assert.Equal("ok", report.RootElement.GetProperty("status").GetString());
        // right after an aggressive compacting collection GC.GetTotalMemory has read 0 on a busy host
        Assert.True(report.RootElement.GetProperty("before").GetProperty("heap_bytes").GetInt64() > 0);
        Assert.True(report.RootElement.GetProperty("after").GetProperty("heap_bytes").GetInt64() >= 0);
        Assert.True(GC.CollectionCount(2) > gen2);

        using var anonymous = new HttpClient { BaseAddress = t.BaseUri };
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/admin/gc", null)).StatusCode);
    }
}
