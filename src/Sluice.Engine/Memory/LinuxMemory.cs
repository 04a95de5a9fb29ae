using System.Runtime.InteropServices;

namespace Sluice.Engine.Memory;

/// <summary>The libc memory calls Sluice makes on Linux (mmap, mprotect, munmap, madvise), in one place.</summary>
internal static partial class LinuxMemory
{
    public const int ProtNone = 0, ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    public const int MapShared = 0x01, MapPrivate = 0x02, MapAnonymous = 0x20, MapNoReserve = 0x4000;
    public const int MadvDontNeed = 4, MadvHugePage = 14;
    public const nint MapFailed = -1;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    public static partial int Mprotect(nint address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    public static partial int Madvise(nint address, nuint length, int advice);

    /// <summary>Fresh private anonymous pages, or <see cref="MapFailed"/>.</summary>
    public static nint MapAnonymousPages(nuint length, int protection) =>
        Mmap(0, length, protection, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
}
