namespace Sluice.Engine.Formats.SafeTensors;

/// <summary>
/// One safetensors file, read into private memory (what a server loads) or memory-mapped read-only
/// (<see cref="FileLoading"/>). The header is parsed and checked at open; tensor data stays where it
/// was read and is handed out as pointers into it.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly FileBytes _bytes;
    private readonly byte* _base;
    private readonly Dictionary<string, SafeTensorInfo> _byName;
    private bool _disposed;

    private SafeTensorsFile(string path, FileBytes bytes)
    {
        FilePath = path;
        long size = FileSize = bytes.Length;
        _bytes = bytes;
        byte* basePtr = _base = bytes.Pointer;
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

    /// <summary>Opens a safetensors file, copied or mapped; every problem is a <see cref="ModelFormatException"/> naming it.</summary>
    public static SafeTensorsFile Open(string path, FileLoading loading = FileLoading.Map)
    {
        var bytes = FileBytes.Open(path, loading, 8, "safetensors");
        try
        {
            return new SafeTensorsFile(path, bytes);
        }
        catch
        {
            bytes.Dispose();
            throw;
        }
    }

    public bool TryGetTensor(string name, out SafeTensorInfo tensor) => _byName.TryGetValue(name, out tensor!);

    /// <summary>Pointer to the first byte of a tensor's data.</summary>
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
        _bytes.Dispose();
    }
}
