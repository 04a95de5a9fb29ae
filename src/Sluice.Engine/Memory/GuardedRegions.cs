using System.Collections.Concurrent;
using static Sluice.Engine.Memory.LinuxMemory;

namespace Sluice.Engine.Memory;

/// <summary>
/// The guarded allocator behind <see cref="NativeAllocator"/>: one private mapping per buffer,
/// laid out as [guard page][canary slack | buffer | canary slack][guard page], the buffer's rounded-up
/// end touching the trailing guard. Only for tests and diagnosis: every buffer costs at least three pages
/// of address space and a system call or three.
/// </summary>
internal static unsafe class GuardedRegions
{
    private const byte Canary = 0xFB;

    // freed regions stay mapped but inaccessible until this many newer ones were freed
    private const int QuarantineLength = 4096;

    private sealed record Region(nint Base, nuint Length, nint DataStart, nuint Bytes, nuint Rounded);

    private static readonly ConcurrentDictionary<nint, Region> Live = new();
    private static readonly ConcurrentQueue<Region> Quarantine = new();

    public static void* Allocate(nuint bytes, nuint alignment, bool zero)
    {
        nuint page = (nuint)Environment.SystemPageSize;
        nuint align = Math.Min(alignment, page); // huge-page alignment is a hint; guarding wins
        nuint rounded = (bytes + align - 1) / align * align;
        nuint dataPages = (rounded + page - 1) / page * page;
        nuint length = dataPages + 2 * page;
        nint region = MapAnonymousPages(length, ProtNone);
        if (region == MapFailed)
        {
            throw new OutOfMemoryException($"guarded allocation of {bytes:N0} bytes: mmap failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
        }
        nint dataStart = region + (nint)page;
        if (Mprotect(dataStart, dataPages, ProtRead | ProtWrite) != 0)
        {
            _ = Munmap(region, length);
            throw new OutOfMemoryException($"guarded allocation of {bytes:N0} bytes: mprotect failed");
        }
        byte* p = (byte*)(dataStart + (nint)(dataPages - rounded));
        new Span<byte>((void*)dataStart, (int)(p - (byte*)dataStart)).Fill(Canary);
        new Span<byte>(p + bytes, (int)(rounded - bytes)).Fill(Canary);
        if (!zero)
        {
            Fill(p, bytes, NativeAllocator.Poison);
        }
        Live[(nint)p] = new Region(region, length, dataStart, bytes, rounded);
        return p;
    }

    public static void Free(void* pointer)
    {
        if (!Live.TryRemove((nint)pointer, out var r))
        {
            Environment.FailFast($"native free of 0x{(nint)pointer:x}: not a live guarded buffer (double free, or not from NativeAllocator)");
            return;
        }
        if (!SlackIntact(pointer, r))
        {
            Environment.FailFast($"native buffer of {r.Bytes:N0} bytes at 0x{(nint)pointer:x} was written outside its bounds (its alignment slack changed)");
        }
        // hand the pages back and make the range inaccessible: a use after free faults
        _ = Madvise(r.Base, r.Length, MadvDontNeed);
        _ = Mprotect(r.Base, r.Length, ProtNone);
        Quarantine.Enqueue(r);
        while (Quarantine.Count > QuarantineLength && Quarantine.TryDequeue(out var old))
        {
            _ = Munmap(old.Base, old.Length);
        }
    }

    /// <summary>True while the alignment slack around a live buffer still holds its canary (false for an unknown pointer).</summary>
    public static bool SlackIntact(void* pointer) => Live.TryGetValue((nint)pointer, out var r) && SlackIntact(pointer, r);

    private static bool SlackIntact(void* pointer, Region r)
    {
        byte* p = (byte*)pointer;
        return IsCanary((byte*)r.DataStart, (nuint)(p - (byte*)r.DataStart)) && IsCanary(p + r.Bytes, r.Rounded - r.Bytes);
    }

    private static bool IsCanary(byte* p, nuint length)
    {
        for (nuint i = 0; i < length; i++)
        {
            if (p[i] != Canary)
            {
                return false;
            }
        }
        return true;
    }

    private static void Fill(byte* p, nuint length, byte value)
    {
        while (length > 0)
        {
            int chunk = (int)Math.Min(length, (nuint)int.MaxValue);
            new Span<byte>(p, chunk).Fill(value);
            p += chunk;
            length -= (nuint)chunk;
        }
    }
}
