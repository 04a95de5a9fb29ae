using static Sluice.Engine.Memory.LinuxMemory;

namespace Sluice.Engine.Kernels.Native;

/// <summary>
/// Pages holding generated machine code (Linux): written while read-write, then switched to read-execute,
/// so they are never writable and executable at once. Installed code lives as long as the process.
/// </summary>
internal static unsafe class ExecutableMemory
{
    /// <summary>The code copied into fresh executable pages; null where that is not possible (not Linux, or refused).</summary>
    public static byte* Install(ReadOnlySpan<byte> code)
    {
        if (!OperatingSystem.IsLinux() || code.IsEmpty)
        {
            return null;
        }
        long page = Environment.SystemPageSize;
        nuint size = (nuint)((code.Length + page - 1) / page * page);
        nint p = MapAnonymousPages(size, ProtRead | ProtWrite);
        if (p == MapFailed)
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
}
