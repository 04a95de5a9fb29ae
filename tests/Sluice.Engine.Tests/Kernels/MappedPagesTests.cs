using Sluice.Engine.Kernels;
using Sluice.Engine.Memory;
using Sluice.Engine.Tests.Memory;

namespace Sluice.Engine.Tests.Kernels;

public sealed unsafe class MappedPagesTests
{
    [SkippableFact]
    public void Release_Guarded_MakesTheWholePagesInsideInaccessible()
    {
        Skip.IfNot(NativeAllocator.Guarded, "guarded memory is off (SLUICE_GUARD_MEMORY=0)");
        long page = Environment.SystemPageSize;
        byte* p = (byte*)NativeAllocator.Allocate((nuint)(6 * page), 4096, zero: true);
        try
        {
            Assert.True(MappedPages.Release(p + 7, 5 * page));
            Assert.Equal("rw", ProcessMaps.Protection(p));                 // the partial first page stays
            Assert.Equal("--", ProcessMaps.Protection(p + page));          // whole pages inside are gone
            Assert.Equal("--", ProcessMaps.Protection(p + 4 * page));
            Assert.Equal("rw", ProcessMaps.Protection(p + 5 * page));      // the partial last page stays
        }
        finally
        {
            NativeAllocator.Free(p);
        }
    }

    [Fact]
    public void NothingToRelease_InsideOnePage() => Assert.False(MappedPages.Release((byte*)Environment.SystemPageSize + 1, 10));
}
