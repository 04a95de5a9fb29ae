using static Sluice.Engine.Memory.LinuxMemory;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Hands pages of model bytes back to the operating system (Linux madvise MADV_DONTNEED): the process
/// stops holding them. Used after a weight matrix is repacked, when the original is never read again; with
/// guarded memory (<see cref="Memory.NativeAllocator.Guarded"/>) the pages are also made inaccessible, so a
/// read of a released original faults in tests instead of reading zeroes. Also asks for huge pages for
/// large buffers written once (<see cref="AdviseHugePages"/>). Elsewhere, does nothing.
/// </summary>
internal static unsafe class MappedPages
{
    /// <summary>Releases the whole pages inside [p, p + length); false when nothing was released.</summary>
    public static bool Release(byte* p, long length)
    {
        bool released = Advise(p, length, MadvDontNeed);
        if (released && Memory.NativeAllocator.Guarded)
        {
            var (start, end) = WholePages(p, length);
            _ = Mprotect(start, (nuint)(end - start), ProtNone);
        }
        return released;
    }

    /// <summary>Asks for transparent huge pages over the whole pages inside [p, p + length) (Linux; elsewhere nothing).</summary>
    public static bool AdviseHugePages(byte* p, long length) => Advise(p, length, MadvHugePage);

    // madvise over the whole pages inside [p, p + length); false on other systems or when none is inside
    private static bool Advise(byte* p, long length, int advice)
    {
        if (!OperatingSystem.IsLinux() || length <= 0)
        {
            return false;
        }
        var (start, end) = WholePages(p, length);
        return end > start && Madvise(start, (nuint)(end - start), advice) == 0;
    }

    private static (nint Start, nint End) WholePages(byte* p, long length)
    {
        long page = Environment.SystemPageSize;
        return ((nint)(((long)p + page - 1) / page * page), (nint)(((long)p + length) / page * page));
    }
}
