using System.Diagnostics;
using System.Runtime;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Sluice.Server.Hosting;

namespace Sluice.Server.Observability.Memory;

/// <summary>GET /debug/memory (managed heap, native and mapped model memory, KV pool) and POST /admin/gc (a full, compacting collection).</summary>
internal sealed partial class MemoryEndpoints(ServingContext serving, ILogger<MemoryEndpoints> log)
{
    public Task MemoryAsync(HttpContext http) => WriteAsync(http, Report(), MemoryJson.Default.MemoryReport);

    public Task CollectAsync(HttpContext http)
    {
        var before = Snapshot();
        long start = serving.Time.GetTimestamp();
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        double ms = serving.Time.GetElapsedTime(start).TotalMilliseconds;
        var after = Snapshot();
        LogCollected(log, ms, before.HeapBytes, after.HeapBytes, before.ResidentBytes, after.ResidentBytes);
        return WriteAsync(http, new GcReport("ok", Math.Round(ms, 3), before, after, before.HeapBytes - after.HeapBytes), MemoryJson.Default.GcReport);
    }

    private MemoryReport Report()
    {
        using var process = Process.GetCurrentProcess();
        var gc = GC.GetGCMemoryInfo();
        var heap = new ManagedHeap(GC.GetTotalMemory(forceFullCollection: false), gc.TotalCommittedBytes, gc.FragmentedBytes, GC.GetTotalAllocatedBytes(), gc.MemoryLoadBytes,
            gc.HighMemoryLoadThresholdBytes, [.. gc.GenerationInfo.ToArray().Select(g => g.SizeAfterBytes)],
            [.. Enumerable.Range(0, GC.MaxGeneration + 1).Select(GC.CollectionCount)], GC.GetTotalPauseDuration().TotalSeconds, gc.PauseTimePercentage);
        var proc = new ProcessMemory(process.WorkingSet64, process.VirtualMemorySize64, process.PrivateMemorySize64, gc.TotalAvailableMemoryBytes,
            Math.Max(0, process.WorkingSet64 - gc.TotalCommittedBytes));
        var host = serving.Host;
        ModelMemory? model = host.Model is { } m
            ? new ModelMemory(host.Name, m.Format, m.Path, MappedMemory.FileBytes(m.Path), m.WeightBytes, MappedMemory.ResidentBytes(m.Path))
            : null;
        KvCacheMemory? kv = host.Engine is { } e
            ? new KvCacheMemory(e.KvCacheBytes, e.KvBlocks, e.Stats.KvBlocksFree, e.Stats.KvCachedBlocks, e.Options.BlockSize, e.Stats.KvUsage)
            : null;
        return new MemoryReport(proc, heap, model, kv);
    }

    private static GcSnapshot Snapshot()
    {
        using var process = Process.GetCurrentProcess();
        var gc = GC.GetGCMemoryInfo();
        return new GcSnapshot(GC.GetTotalMemory(forceFullCollection: false), gc.TotalCommittedBytes, process.WorkingSet64);
    }

    private static Task WriteAsync<T>(HttpContext http, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        http.Response.ContentType = "application/json";
        return System.Text.Json.JsonSerializer.SerializeAsync(http.Response.Body, value, type, http.RequestAborted);
    }

    [LoggerMessage(EventId = 310, EventName = "gc", Level = LogLevel.Information,
        Message = "POST /admin/gc: full compacting collection in {Milliseconds:F1} ms; heap {HeapBefore} -> {HeapAfter} bytes, RSS {RssBefore} -> {RssAfter} bytes")]
    private static partial void LogCollected(ILogger log, double milliseconds, long heapBefore, long heapAfter, long rssBefore, long rssAfter);
}
