using System.IO.MemoryMappedFiles;

namespace Sluice.Engine.Formats.SafeTensors;

/// <summary>
/// One safetensors file, memory-mapped read-only. The header is parsed and checked at open; tensor
/// data stays in the mapping and is handed out as pointers into it, so opening copies no weights.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MemoryMappedFile _mmf;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly Dictionary<string, SafeTensorInfo> _byName;
    private bool _disposed;

    private SafeTensorsFile(string path, long size, MemoryMappedFile mmf, MemoryMappedViewAccessor view, byte* basePtr)
    {
        FilePath = path;
        FileSize = size;
        _mmf = mmf;
        _view = view;
        _base = basePtr;
        long prefix = Math.Min(size, 8 + SafeTensorsHeaderParser.MaxHeaderBytes);
        var header = SafeTensorsHeaderParser.Parse(path, new ReadOnlySpan<byte>(basePtr, (int)prefix), size);
        DataOffset = header.DataOffset;
        Tensors = header.Tensors;
        Metadata = header.Metadata;
        _byName = Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public string FilePath { get; }
    public long FileSize { get; }

    /// <summary>Where the data section starts: 8 + the header length.</summary>
    public long DataOffset { get; }

    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>The header's <c>__metadata__</c> strings (e.g. <c>format: pt</c>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens and maps a safetensors file; every problem is a <see cref="ModelFormatException"/> naming it.</summary>
    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelFormatException(path, "file not found");
        }
        long size = new FileInfo(path).Length;
        if (size < 8)
        {
            throw new ModelFormatException(path, $"file is {size} bytes, too short to be a safetensors file (truncated?)");
        }
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
            return new SafeTensorsFile(path, size, mmf, view, p + view.PointerOffset);
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

    public bool TryGetTensor(string name, out SafeTensorInfo tensor) => _byName.TryGetValue(name, out tensor!);

    /// <summary>Pointer to the first byte of a tensor's data inside the mapping.</summary>
    public byte* TensorData(SafeTensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _base + DataOffset + tensor.Begin;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mmf.Dispose();
    }
}
