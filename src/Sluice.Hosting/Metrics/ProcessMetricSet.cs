using System.Diagnostics;
using Sluice.Hosting.Metrics.Exposition;

namespace Sluice.Hosting.Metrics;

/// <summary>
/// The process and its garbage collector, for every host: Prometheus' standard process_ names (what every client library
/// publishes, so existing memory alerts work) and sluice_gc_ ones for the managed heap.
/// </summary>
public static class ProcessMetricSet
{
    public static void Register(MetricRegistry r, Process process)
    {
        // each read refreshes its own snapshot under a lock: Process caches what it read until Refresh, and Refresh is not
        // safe against a concurrent scrape reading the same object (a stale or torn value otherwise)
        r.Add(ObservedMetric.Single("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType.Counter,
            () => Fresh(process, p => p.TotalProcessorTime.TotalSeconds)));
        r.Add(ObservedMetric.Single("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType.Gauge, () => Fresh(process, p => p.WorkingSet64)));
        r.Add(ObservedMetric.Single("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType.Gauge, () => Fresh(process, p => p.VirtualMemorySize64)));
        r.Add(ObservedMetric.Single("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", MetricType.Gauge,
            () => new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0));
        r.Add(ObservedMetric.Single("process_open_fds", "Number of open file descriptors.", MetricType.Gauge, OpenFileDescriptors));

        r.Add(ObservedMetric.Single("sluice_memory_limit_bytes", "Memory the process may use: the container limit if any, else physical memory.", MetricType.Gauge,
            () => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes));
        r.Add(ObservedMetric.Single("sluice_gc_heap_bytes", "Bytes on the managed heap (live objects and garbage not yet collected).", MetricType.Gauge, () => GC.GetTotalMemory(forceFullCollection: false)));
        r.Add(ObservedMetric.Single("sluice_gc_committed_bytes", "Memory committed for the managed heap.", MetricType.Gauge, () => GC.GetGCMemoryInfo().TotalCommittedBytes));
        r.Add(ObservedMetric.Single("sluice_gc_allocated_bytes_total", "Bytes allocated on the managed heap since start.", MetricType.Counter, () => GC.GetTotalAllocatedBytes()));
        r.Add(ObservedMetric.Single("sluice_gc_pause_seconds_total", "Time the runtime was paused for garbage collection.", MetricType.Counter, () => GC.GetTotalPauseDuration().TotalSeconds));
        r.Add(new ObservedMetric("sluice_gc_collections_total", "Garbage collections, by generation.", MetricType.Counter, ["generation"],
            () => Enumerable.Range(0, GC.MaxGeneration + 1).Select(g => new Observation(GC.CollectionCount(g), g.ToString(System.Globalization.CultureInfo.InvariantCulture)))));
    }

    private static double Fresh(Process process, Func<Process, double> read)
    {
        lock (process)
        {
            process.Refresh();
            return read(process);
        }
    }

    private static double OpenFileDescriptors()
    {
        try
        {
            return Directory.Exists("/proc/self/fd") ? Directory.EnumerateFileSystemEntries("/proc/self/fd").Count() : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
