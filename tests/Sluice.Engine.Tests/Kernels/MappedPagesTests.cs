using System.IO.MemoryMappedFiles;
using Sluice.Engine.Kernels;

namespace Sluice.Engine.Tests.Kernels;

public sealed unsafe class MappedPagesTests
{
    /// <summary>Released pages of a read-only file mapping read back the file's bytes.</summary>
    [Fact]
    public void ReleasedPages_ReadBackTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sluice-pages-{Guid.NewGuid():N}.bin");
        var bytes = new byte[5 * Environment.SystemPageSize + 123];
        new Random(3).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        try
        {
            using var mmf = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            using var view = mmf.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            try
            {
                long sum = 0;
                for (int i = 0; i < bytes.Length; i++)
                {
                    sum += p[i];
                }
                bool released = MappedPages.Release(p + 7, bytes.Length - 7);
                Assert.Equal(OperatingSystem.IsLinux(), released);
                Assert.Equal(bytes, new ReadOnlySpan<byte>(p, bytes.Length).ToArray());
                Assert.Equal(bytes.Sum(b => (long)b), sum);
            }
            finally
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void NothingToRelease_InsideOnePage() => Assert.False(MappedPages.Release((byte*)Environment.SystemPageSize + 1, 10));
}
