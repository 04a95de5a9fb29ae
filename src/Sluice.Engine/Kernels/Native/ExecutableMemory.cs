using System.Runtime.InteropServices;

namespace Sluice.Engine.Kernels.Native;

/// <summary>
/// Pages holding generated machine code (Linux): written while read-write, then switched to read-execute,
/// so they are never writable and executable at once. Installed code lives as long as the process.
/// </summary>
internal static unsafe partial class ExecutableMemory
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    private const int MapPrivate = 0x02, MapAnonymous = 0x20;

    /// <summary>The code copied into fresh executable pages; null where that is not possible (not Linux, or refused).</summary>
    public static byte* Install(ReadOnlySpan<byte> code)
    {
        if (!OperatingSystem.IsLinux() || code.IsEmpty)
        {
            return null;
        }
        long page = Environment.SystemPageSize;
        nuint size = (nuint)((code.Length + page - 1) / page * page);
        nint p = Mmap(0, size, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (p == -1)
        {
            return null;
        }
        code.CopyTo(new Span<byte>((void*)p, code.Length));
        if (Mprotect(p, size, ProtRead | ProtExec) != 0)
        {
            _ = Munmap(p, size);
            return null;
        }
        return (byte*)p;
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static partial int Mprotect(nint address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);
}
