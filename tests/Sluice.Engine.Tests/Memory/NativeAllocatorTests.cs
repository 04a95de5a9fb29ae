using Sluice.Engine.Memory;

namespace Sluice.Engine.Tests.Memory;

public sealed unsafe class NativeAllocatorTests
{
    [Fact]
    public void NativeAllocator_InTheTestSuite_IsGuardedOnLinux() =>
        Assert.Equal(OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable(NativeAllocator.GuardVariable) != "0", NativeAllocator.Guarded);

    [SkippableTheory]
    [InlineData(1, 64)]
    [InlineData(100, 64)]
    [InlineData(4096, 64)]
    [InlineData(10_000, 64)]
    [InlineData(3 << 20, 2 << 20)]
    public void Allocate_Guarded_BufferTouchesAnInaccessiblePageOnEachSide(int bytes, int alignment)
    {
        Skip.IfNot(NativeAllocator.Guarded, "guarded memory is off (SLUICE_GUARD_MEMORY=0)");
        byte* p = (byte*)NativeAllocator.Allocate((nuint)bytes, (nuint)alignment, zero: true);
        try
        {
            long page = Environment.SystemPageSize;
            long rounded = (bytes + 63) / 64 * 64;
            Assert.Equal(0, (long)p % 64);
            Assert.Equal("rw", ProcessMaps.Protection(p));
            Assert.Equal("rw", ProcessMaps.Protection(p + rounded - 1));
            Assert.Equal("--", ProcessMaps.Protection(p + rounded));                        // one past the rounded end faults
            Assert.Equal("--", ProcessMaps.Protection((byte*)((long)p / page * page) - 1)); // so does the page before
            Assert.All(new ReadOnlySpan<byte>(p, bytes).ToArray(), b => Assert.Equal(0, b));
        }
        finally
        {
            NativeAllocator.Free(p);
        }
    }

    [SkippableFact]
    public void Allocate_GuardedWithoutZero_FillsWithPoison()
    {
        Skip.IfNot(NativeAllocator.Guarded, "guarded memory is off (SLUICE_GUARD_MEMORY=0)");
        byte* p = (byte*)NativeAllocator.Allocate(1000, 64, zero: false);
        Assert.All(new ReadOnlySpan<byte>(p, 1000).ToArray(), b => Assert.Equal(NativeAllocator.Poison, b));
        NativeAllocator.Free(p);
    }

    [SkippableFact]
    public void Free_Guarded_LeavesTheBufferInaccessible()
    {
        Skip.IfNot(NativeAllocator.Guarded, "guarded memory is off (SLUICE_GUARD_MEMORY=0)");
        byte* p = (byte*)NativeAllocator.Allocate(20_000, 64, zero: true);
        p[0] = 1;
        NativeAllocator.Free(p);
        Assert.Equal("--", ProcessMaps.Protection(p)); // a use after free faults
    }

    [SkippableFact]
    public void SlackIntact_WriteJustPastTheEnd_IsDetected()
    {
        Skip.IfNot(NativeAllocator.Guarded, "guarded memory is off (SLUICE_GUARD_MEMORY=0)");
        byte* p = (byte*)NativeAllocator.Allocate(100, 64, zero: true); // 28 bytes of slack before the guard page
        Assert.True(GuardedRegions.SlackIntact(p));
        byte saved = p[100];
        p[100] = 0; // one byte out of bounds, still inside the page
        Assert.False(GuardedRegions.SlackIntact(p));
        p[100] = saved;
        Assert.True(GuardedRegions.SlackIntact(p));
        NativeAllocator.Free(p);
    }

    [Fact]
    public void Allocate_AlignmentNotAPowerOfTwo_Throws() =>
        Assert.Throws<ArgumentException>(() => { NativeAllocator.Allocate(64, 48, zero: false); });
}
