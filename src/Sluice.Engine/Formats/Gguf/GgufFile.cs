using System.Text;
using Sluice.Engine.Models;

namespace Sluice.Engine.Formats.Gguf;

/// <summary>
/// A GGUF file (versions 2 and 3), read into private memory (what a server loads) or memory-mapped
/// read-only (<see cref="FileLoading"/>). Metadata is parsed at open; tensor data stays where it was read
/// and is handed out as pointers/spans into it.
/// </summary>
public sealed unsafe class GgufFile : IDisposable, ITensorSource
{
    public const uint Magic = 0x46554747; // "GGUF" little-endian
    public const int DefaultAlignment = 32;

    private readonly FileBytes _bytes;
    private readonly byte* _base;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;
    private bool _disposed;

    private GgufFile(string path, FileBytes bytes)
    {
        FilePath = path;
        _bytes = bytes;
        _base = bytes.Pointer;
        FileSize = bytes.Length;
        var header = new GgufHeaderParser(path, _base, FileSize).Parse();
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

    /// <summary>Opens a GGUF file, memory-mapped; throws <see cref="ModelFormatException"/> naming the problem.</summary>
    public static GgufFile Open(string path) => Open(path, FileLoading.Map);

    /// <summary>Opens a GGUF file, copied or mapped; throws <see cref="ModelFormatException"/> naming the problem.</summary>
    public static GgufFile Open(string path, FileLoading loading)
    {
        var bytes = FileBytes.Open(path, loading, 24, "GGUF");
        try
        {
            return new GgufFile(path, bytes);
        }
        catch
        {
            bytes.Dispose();
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
            tensor = new TensorView(t.Name, t.Type, t.Dimensions, TensorData(t), releasable: true);
            return true;
        }
        tensor = default;
        return false;
    }

    public GgufTensorInfo GetTensor(string name) =>
        _tensorsByName.TryGetValue(name, out var t) ? t : throw new ModelFormatException(FilePath, $"missing tensor '{name}'");

    /// <summary>Pointer to the first byte of a tensor's data.</summary>
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
        _bytes.Dispose();
    }

    internal static string DecodeString(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
