namespace Sluice.Server.Observability.Memory;

/// <summary>The body of GET /debug/memory: where the process' memory is.</summary>
public sealed record MemoryReport(ProcessMemory Process, ManagedHeap ManagedHeap, ModelMemory? Model, KvCacheMemory? KvCache);

/// <summary>The operating system's view: resident (RSS), virtual, and the part of RSS outside the managed heap.</summary>
public sealed record ProcessMemory(long ResidentBytes, long VirtualBytes, long PrivateBytes, long LimitBytes, long NativeResidentBytes);

/// <summary>The garbage collector's view.</summary>
public sealed record ManagedHeap(long HeapBytes, long CommittedBytes, long FragmentedBytes, long AllocatedBytesTotal, long MemoryLoadBytes,
    long HighMemoryLoadThresholdBytes, IReadOnlyList<long> GenerationSizesBytes, IReadOnlyList<int> Collections, double PauseSecondsTotal, double PauseTimePercentage);

/// <summary>The model: its file(s), the weights a step reads, and how much of the memory-mapped file is resident.</summary>
public sealed record ModelMemory(string Name, string Format, string Path, long FileBytes, long WeightsBytes, long MappedResidentBytes);

/// <summary>The paged KV cache pool (preallocated at load: its size does not change with load).</summary>
public sealed record KvCacheMemory(long Bytes, int Blocks, int BlocksFree, int BlocksCached, int BlockSize, double UsageRatio);

/// <summary>The body of POST /admin/gc.</summary>
public sealed record GcReport(string Status, double DurationMs, GcSnapshot Before, GcSnapshot After, long FreedHeapBytes);

/// <summary>Heap and RSS at one moment.</summary>
public sealed record GcSnapshot(long HeapBytes, long CommittedBytes, long ResidentBytes);
