using System.Runtime.InteropServices;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Hands pages of a read-only file mapping back to the operating system (Linux madvise MADV_DONTNEED):
/// the process stops holding them, and a later read faults them in again from the file. Used after a
/// weight matrix is repacked, when the mapped original is no longer read. Also asks for huge pages for
/// large buffers written once (<see cref="AdviseHugePages"/>). Elsewhere, does nothing.
/// </summary>
internal static unsafe partial class MappedPages
{
    private const int MadvDontNeed = 4;

    /// <summary>Releases the whole pages inside [p, p + length); false when nothing was released.</summary>
    public static bool Release(byte* p, long length) => Advise(p, length, MadvDontNeed);

    private const int MadvHugePage = 14;

    /// <summary>Asks for transparent huge pages over the whole pages inside [p, p + length) (Linux; elsewhere nothing).</summary>
    public static bool AdviseHugePages(byte* p, long length) => Advise(p, length, MadvHugePage);

    // madvise over the whole pages inside [p, p + length); false on other systems or when none is inside
    private static bool Advise(byte* p, long length, int advice)
    {
        if (!OperatingSystem.IsLinux() || length <= 0)
        {
            return false;
        }
        long page = Environment.SystemPageSize;
        long start = ((long)p + page - 1) / page * page;
        long end = ((long)p + length) / page * page;
        return end > start && Madvise((nint)start, (nuint)(end - start), advice) == 0;
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
