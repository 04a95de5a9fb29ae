using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;
using Sluice.Engine.Memory;

namespace Sluice.Engine.Formats;

/// <summary>How a model file's bytes are held while it is open.</summary>
public enum FileLoading
{
    /// <summary>
    /// Read once into private memory at open, the file closed again: what a server loads, so replacing or
    /// overwriting the file in place (an everyday deploy step) cannot pull pages from under a running
    /// model. With a shared file mapping the next read of a truncated page killed the process (SIGBUS).
    /// </summary>
    Copy,

    /// <summary>Memory-mapped read-only: for reading a header or a few tensors (model info, verify, synthesis).</summary>
    Map,
}

/// <summary>A file's bytes at a stable pointer, mapped or copied (<see cref="FileLoading"/>).</summary>
public sealed unsafe class FileBytes : IDisposable
{
    private readonly MemoryMappedFile? _mmf;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _copy;
    private bool _disposed;

    private FileBytes(string path, byte* pointer, long length, MemoryMappedFile? mmf, MemoryMappedViewAccessor? view, bool copied)
    {
        Path = path;
        Pointer = pointer;
        Length = length;
        _mmf = mmf;
        _view = view;
        _copy = copied ? pointer : null;
    }

    public string Path { get; }
    public byte* Pointer { get; }
    public long Length { get; }

    /// <summary>True for a private copy: nothing outside the process can change or remove these bytes.</summary>
    public bool IsCopy => _copy != null;

    /// <summary>Opens <paramref name="path"/> (at least <paramref name="minLength"/> bytes, else a <see cref="ModelFormatException"/>).</summary>
    public static FileBytes Open(string path, FileLoading loading, long minLength, string kind)
    {
        if (!File.Exists(path))
        {
            throw new ModelFormatException(path, "file not found");
        }
        try
        {
            // before the size: a file this user may not read reports that, not a length (files in /proc say 0 bytes)
            File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete).Dispose();
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new UnauthorizedAccessException($"model file '{path}' cannot be read by this user ({ex.Message})", ex);
        }
        long size = new FileInfo(path).Length;
        if (size < minLength)
        {
            throw new ModelFormatException(path, $"file is {size} bytes, too short to be a {kind} file (truncated?)");
        }
        return loading == FileLoading.Copy ? Read(path) : Map(path, size);
    }

    private static FileBytes Read(string path)
    {
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long size = RandomAccess.GetLength(handle);
        // ordinary pages: the repacked matrices' originals are handed back piecemeal, which would split huge pages
        // and leave too few whole ones for the packed copies made next (decode read those ~15 % slower)
        byte* p = (byte*)NativeAllocator.Allocate((nuint)Math.Max(size, 1), 4096, zero: false);
        try
        {
            long done = 0;
            while (done < size)
            {
                int chunk = (int)Math.Min(size - done, 1 << 30);
                int n = RandomAccess.Read(handle, new Span<byte>(p + done, chunk), done);
                if (n == 0)
                {
                    throw new ModelFormatException(path, $"file shrank to {done:N0} of {size:N0} bytes while it was read (replaced during load?)");
                }
                done += n;
            }
            return new FileBytes(path, p, size, null, null, copied: true);
        }
        catch (IOException ex)
        {
            NativeAllocator.Free(p);
            throw new ModelFormatException(path, "cannot read the file: " + ex.Message, ex);
        }
        catch
        {
            NativeAllocator.Free(p);
            throw;
        }
    }

    private static FileBytes Map(string path, long size)
    {
        MemoryMappedFile? mmf = null;
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            mmf = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = mmf.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            acquired = true;
            return new FileBytes(path, p + view.PointerOffset, size, mmf, view, copied: false);
        }
        catch
        {
            if (acquired)
            {
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            }
            view?.Dispose();
            mmf?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (_copy != null)
        {
            NativeAllocator.Free(_copy);
            _copy = null;
        }
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _mmf?.Dispose();
    }
}
