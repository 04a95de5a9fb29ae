using System.IO.MemoryMappedFiles;
using System.Text;
using Sluice.Engine.Models;

namespace Sluice.Engine.Formats.Gguf;

/// <summary>
/// A GGUF file (versions 2 and 3), memory-mapped read-only. Metadata is parsed at open; tensor data
/// stays in the mapping and is handed out as pointers/spans into it, so opening copies no weights.
/// </summary>
public sealed unsafe class GgufFile : IDisposable, ITensorSource
{
    public const uint Magic = 0x46554747; // "GGUF" little-endian
    public const int DefaultAlignment = 32;

    private readonly MemoryMappedFile? _mmf;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;
    private bool _disposed;

    private GgufFile(string path, MemoryMappedFile? mmf, MemoryMappedViewAccessor? view, byte* basePtr, long size)
    {
        FilePath = path;
        _mmf = mmf;
        _view = view;
        _base = basePtr;
        FileSize = size;
        var header = new GgufHeaderParser(path, basePtr, size).Parse();
        Version = header.Version;
        Metadata = header.Metadata;
        Tensors = header.Tensors;
        Alignment = header.Alignment;
        DataOffset = header.DataOffset;
        _tensorsByName = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal);
        foreach (var t in Tensors)
        {
            if (!_tensorsByName.TryAdd(t.Name, t))
            {
                throw new ModelFormatException(path, $"tensor '{t.Name}' appears twice");
            }
        }
    }

    public string FilePath { get; }
    public long FileSize { get; }
    public int Version { get; }
    public int Alignment { get; }

    /// <summary>Offset of the tensor data section from the start of the file.</summary>
    public long DataOffset { get; }

    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Opens and maps a GGUF file; throws <see cref="ModelFormatException"/> naming the problem.</summary>
    public static GgufFile Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelFormatException(path, "file not found");
        }
        long size = new FileInfo(path).Length;
        if (size < 24)
        {
            throw new ModelFormatException(path, $"file is {size} bytes, too short to be a GGUF file (truncated?)");
        }
        MemoryMappedFile? mmf = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            mmf = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = mmf.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            p += view.PointerOffset;
            return new GgufFile(path, mmf, view, p, size);
        }
        catch
        {
            if (view != null)
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
                view.Dispose();
            }
            mmf?.Dispose();
            throw;
        }
    }

    public bool TryGetTensor(string name, out GgufTensorInfo tensor) =>
        _tensorsByName.TryGetValue(name, out tensor!);

    string ITensorSource.SourcePath => FilePath;

    bool ITensorSource.TryGetTensor(string name, out TensorView tensor)
    {
        if (_tensorsByName.TryGetValue(name, out var t))
        {
            tensor = new TensorView(t.Name, t.Type, t.Dimensions, TensorData(t), fileMapped: _mmf != null);
            return true;
        }
        tensor = default;
        return false;
    }

    public GgufTensorInfo GetTensor(string name) =>
        _tensorsByName.TryGetValue(name, out var t) ? t : throw new ModelFormatException(FilePath, $"missing tensor '{name}'");

    /// <summary>Pointer to the first byte of a tensor's data inside the mapping.</summary>
    public byte* TensorData(GgufTensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _base + DataOffset + tensor.Offset;
    }

    /// <summary>The tensor's bytes as a span (tensors over 2 GiB must use <see cref="TensorData"/>).</summary>
    public ReadOnlySpan<byte> TensorBytes(GgufTensorInfo tensor) => new(TensorData(tensor), checked((int)tensor.ByteSize));

    public string? GetString(string key) => Metadata.TryGetValue(key, out var v) && v.Value is string s ? s : null;

    public long? GetInt(string key) => Metadata.TryGetValue(key, out var v) ? v.AsInt64() : null;

    public double? GetDouble(string key) => Metadata.TryGetValue(key, out var v) ? v.AsDouble() : null;

    public bool? GetBool(string key) => Metadata.TryGetValue(key, out var v) && v.Value is bool b ? b : null;

    public T[]? GetArray<T>(string key) => Metadata.TryGetValue(key, out var v) && v.Value is T[] a ? a : null;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _mmf?.Dispose();
    }

    internal static string DecodeString(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
