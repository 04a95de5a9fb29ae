using System.Runtime.InteropServices;

namespace Sluice.Engine.Memory;

/// <summary>
/// Where every native buffer of the engine comes from (kernel scratch, activations, packed weights, the
/// KV cache, model data). Normally aligned C heap memory. With <c>SLUICE_GUARD_MEMORY=1</c> (Linux; the
/// test suites turn it on) each buffer gets pages of its own between two inaccessible guard pages, its
/// end flush against the second, so a kernel reading or writing past either end faults at that
/// instruction instead of corrupting a neighbour; the bytes between the buffer and the guards (alignment
/// slack) hold a canary checked when the buffer is freed; fresh buffers are filled with a poison byte
/// rather than zero unless the caller asks for zeroes; and freed buffers are handed back and made
/// inaccessible (kept reserved for a while), so a use after free faults too.
/// </summary>
public static unsafe class NativeAllocator
{
    /// <summary>Environment variable that turns guarded allocation on ("1" or "true").</summary>
    public const string GuardVariable = "SLUICE_GUARD_MEMORY";

    /// <summary>What fresh guarded buffers are filled with when the caller does not ask for zeroes.</summary>
    public const byte Poison = 0xCD;

    /// <summary>True when buffers are guarded (read once, at first use).</summary>
    public static bool Guarded { get; } = ReadGuardSetting();

    /// <summary>
    /// <paramref name="bytes"/> bytes aligned to <paramref name="alignment"/> (a power of two). Zeroed when
    /// <paramref name="zero"/>; otherwise the contents are unspecified (poison when guarded).
    /// </summary>
    public static void* Allocate(nuint bytes, nuint alignment, bool zero)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        {
            throw new ArgumentException($"alignment {alignment} is not a power of two", nameof(alignment));
        }
        bytes = Math.Max(bytes, 1);
        if (Guarded)
        {
            return GuardedRegions.Allocate(bytes, alignment, zero);
        }
        void* p = NativeMemory.AlignedAlloc(bytes, alignment);
        if (zero)
        {
            NativeMemory.Clear(p, bytes);
        }
        return p;
    }

    /// <summary>Frees a buffer from <see cref="Allocate"/>; null is ignored.</summary>
    public static void Free(void* p)
    {
        if (p == null)
        {
            return;
        }
        if (Guarded)
        {
            GuardedRegions.Free(p);
        }
        else
        {
            NativeMemory.AlignedFree(p);
        }
    }

    private static bool ReadGuardSetting()
    {
        string? v = Environment.GetEnvironmentVariable(GuardVariable);
        bool on = v is "1" || string.Equals(v, "true", StringComparison.OrdinalIgnoreCase);
        return on && OperatingSystem.IsLinux();
    }
}
