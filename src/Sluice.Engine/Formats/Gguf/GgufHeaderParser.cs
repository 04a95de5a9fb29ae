using System.Buffers.Binary;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Formats.Gguf;

/// <summary>Parses the header of a mapped GGUF file with bounds checks on every read.</summary>
internal sealed unsafe class GgufHeaderParser
{
    private const int MaxDimensions = 4;
    private const int MaxAlignment = 1 << 20;

    /// <summary>Longest string read (a chat template or a token is far shorter; a .NET string holds at most 2^30 chars).</summary>
    private const int MaxStringBytes = 1 << 30;
    private readonly string _path;
    private readonly byte* _p;
    private readonly long _size;
    private long _pos;

    public GgufHeaderParser(string path, byte* p, long size)
    {
        _path = path;
        _p = p;
        _size = size;
    }

    public sealed record Header(int Version, Dictionary<string, GgufValue> Metadata, List<GgufTensorInfo> Tensors, int Alignment, long DataOffset);

    public Header Parse()
    {
        uint magic = ReadU32();
        if (magic != GgufFile.Magic)
        {
            throw Fail($"wrong magic 0x{magic:X8} (expected 'GGUF'): not a GGUF file");
        }
        uint version = ReadU32();
        if (version is not (2 or 3))
        {
            throw Fail($"unsupported GGUF version {version} (supported: 2, 3)");
        }
        ulong tensorCount = ReadU64();
        ulong kvCount = ReadU64();
        // Each tensor entry needs at least 8+1+4+4+8+8 bytes and each key/value at least 8+4+1.
        if (tensorCount > (ulong)(_size / 33) || kvCount > (ulong)(_size / 13))
        {
            throw Fail($"header claims {tensorCount} tensors and {kvCount} metadata entries, more than the file can hold (truncated or corrupt)");
        }

        var metadata = new Dictionary<string, GgufValue>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = ReadString();
            var type = (GgufValueType)ReadU32();
            var value = ReadValue(type, key);
            if (!metadata.TryAdd(key, value))
            {
                throw Fail($"metadata key '{key}' appears twice");
            }
        }

        int alignment = GgufFile.DefaultAlignment;
        if (metadata.TryGetValue("general.alignment", out var alignValue))
        {
            long a = alignValue.AsInt64() ?? -1;
            if (a <= 0 || a > MaxAlignment || (a & (a - 1)) != 0)
            {
                throw Fail($"general.alignment {alignValue} is not a power of two from 1 to {MaxAlignment}");
            }
            alignment = (int)a;
        }

        // what is left must hold every tensor entry (name length, dimension count, type, offset: 24 bytes at least)
        if (tensorCount > (ulong)((_size - _pos) / 24))
        {
            throw Fail($"header claims {tensorCount} tensors, more than the rest of the file can hold (truncated or corrupt)");
        }
        var tensors = new List<GgufTensorInfo>((int)tensorCount);
        for (ulong i = 0; i < tensorCount; i++)
        {
            tensors.Add(ReadTensorInfo());
        }

        long dataOffset = AlignUp(_pos, alignment);
        long dataSize = _size - dataOffset;
        foreach (var t in tensors)
        {
            if (t.Offset % alignment != 0)
            {
                throw Fail($"tensor '{t.Name}' data offset {t.Offset} is not aligned to {alignment}");
            }
            if (t.Offset > dataSize || t.ByteSize > dataSize - t.Offset)
            {
                throw Fail($"truncated tensor data: tensor '{t.Name}' needs bytes {dataOffset + t.Offset}..{dataOffset + t.Offset + t.ByteSize} but the file has {_size} bytes");
            }
        }
        CheckNoOverlap(tensors);
        return new Header((int)version, metadata, tensors, alignment, dataOffset);
    }

    /// <summary>
    /// Refuses tensors whose data overlap (llama.cpp requires each to start where the previous one ends, padded):
    /// a matrix's pages are handed back once it is repacked, so another tensor reading them would read freed memory.
    /// </summary>
    private void CheckNoOverlap(List<GgufTensorInfo> tensors)
    {
        var byOffset = tensors.Where(t => t.ByteSize > 0).OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < byOffset.Count; i++)
        {
            var (before, t) = (byOffset[i - 1], byOffset[i]);
            if (t.Offset < before.Offset + before.ByteSize)
            {
                throw Fail($"tensor '{t.Name}' data (offset {t.Offset}) overlaps tensor '{before.Name}' (offset {before.Offset}, {before.ByteSize} bytes)");
            }
        }
    }

    private GgufTensorInfo ReadTensorInfo()
    {
        string name = ReadString();
        uint nDims = ReadU32();
        if (nDims > MaxDimensions)
        {
            throw Fail($"tensor '{name}' has {nDims} dimensions (at most {MaxDimensions} supported)");
        }
        var dims = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++)
        {
            ulong dim = ReadU64();
            if (dim == 0 || dim > int.MaxValue)
            {
                throw Fail($"tensor '{name}' has invalid dimension {(long)dim}");
            }
            dims[d] = (long)dim;
            // no tensor holds more elements than the file has bytes: stop before the product can overflow
            if (elements > _size / (long)dim)
            {
                throw Fail($"tensor '{name}' dimensions [{string.Join(", ", dims[..(d + 1)])}...] hold more elements than the file has bytes");
            }
            elements *= (long)dim;
        }
        uint rawType = ReadU32();
        var type = (GgmlType)rawType;
        int blockElements = GgmlTypeInfo.BlockElements(type);
        if (blockElements == 0)
        {
            throw Fail($"tensor '{name}' has unknown tensor type {rawType}");
        }
        long rowBytes = GgmlTypeInfo.RowBytes(type, nDims == 0 ? 1 : dims[0]);
        if (rowBytes < 0)
        {
            throw Fail($"tensor '{name}' row length {(nDims == 0 ? 1 : dims[0])} is not a multiple of the {GgmlTypeInfo.Name(type)} block size {blockElements}");
        }
        long rows = nDims == 0 ? 1 : elements / dims[0];
        // elements <= file size and at most 8 bytes per element or 256-element block: no overflow
        long byteSize = rowBytes * rows;
        long offset = (long)ReadU64();
        if (offset < 0)
        {
            throw Fail($"tensor '{name}' has invalid data offset");
        }
        return new GgufTensorInfo(name, type, dims, offset, byteSize);
    }

    private GgufValue ReadValue(GgufValueType type, string key)
    {
        switch (type)
        {
            case GgufValueType.Array:
                {
                    var elementType = (GgufValueType)ReadU32();
                    ulong count = ReadU64();
                    if (count > (ulong)(_size - _pos))
                    {
                        throw Fail($"metadata '{key}': array of {count} elements runs past the end of the file");
                    }
                    return new GgufValue(GgufValueType.Array, ReadArray(elementType, (long)count, key), elementType);
                }
            default:
                return new GgufValue(type, ReadScalar(type, key));
        }
    }

    private Array ReadArray(GgufValueType elementType, long count, string key)
    {
        if (count > Array.MaxLength)
        {
            throw Fail($"metadata '{key}': array of {count} elements is too long");
        }
        int n = (int)count;
        switch (elementType)
        {
            case GgufValueType.String:
                {
                    // every string takes its 8-byte length at least: refuse a count the file cannot hold before allocating for it
                    if (n > (_size - _pos) / 8)
                    {
                        throw Fail($"metadata '{key}': array of {count} strings runs past the end of the file");
                    }
                    var a = new string[n];
                    for (int i = 0; i < n; i++)
                    {
                        a[i] = ReadString();
                    }
                    return a;
                }
            case GgufValueType.UInt8: return ReadPrimitiveArray<byte>(n, key);
            case GgufValueType.Int8: return ReadPrimitiveArray<sbyte>(n, key);
            case GgufValueType.UInt16: return ReadPrimitiveArray<ushort>(n, key);
            case GgufValueType.Int16: return ReadPrimitiveArray<short>(n, key);
            case GgufValueType.UInt32: return ReadPrimitiveArray<uint>(n, key);
            case GgufValueType.Int32: return ReadPrimitiveArray<int>(n, key);
            case GgufValueType.Float32: return ReadPrimitiveArray<float>(n, key);
            case GgufValueType.UInt64: return ReadPrimitiveArray<ulong>(n, key);
            case GgufValueType.Int64: return ReadPrimitiveArray<long>(n, key);
            case GgufValueType.Float64: return ReadPrimitiveArray<double>(n, key);
            case GgufValueType.Bool:
                {
                    var bytes = ReadPrimitiveArray<byte>(n, key);
                    return Array.ConvertAll(bytes, b => b != 0);
                }
            default:
                throw Fail($"metadata '{key}': unsupported array element type {(uint)elementType}");
        }
    }

    private T[] ReadPrimitiveArray<T>(int n, string key) where T : unmanaged
    {
        long bytes = (long)n * sizeof(T);
        Need(bytes, $"metadata '{key}'");
        var a = new T[n];
        new ReadOnlySpan<byte>(_p + _pos, (int)bytes).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
        _pos += bytes;
        return a;
    }

    private object ReadScalar(GgufValueType type, string key) => type switch
    {
        GgufValueType.UInt8 => ReadBytes(1, key)[0],
        GgufValueType.Int8 => (sbyte)ReadBytes(1, key)[0],
        GgufValueType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2, key)),
        GgufValueType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(ReadBytes(2, key)),
        GgufValueType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4, key)),
        GgufValueType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4, key)),
        GgufValueType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(ReadBytes(4, key)),
        GgufValueType.Bool => ReadBytes(1, key)[0] != 0,
        GgufValueType.String => ReadString(),
        GgufValueType.UInt64 => BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8, key)),
        GgufValueType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8, key)),
        GgufValueType.Float64 => BinaryPrimitives.ReadDoubleLittleEndian(ReadBytes(8, key)),
        _ => throw Fail($"metadata '{key}': unknown value type {(uint)type}"),
    };

    private ReadOnlySpan<byte> ReadBytes(int n, string what)
    {
        Need(n, what);
        var s = new ReadOnlySpan<byte>(_p + _pos, n);
        _pos += n;
        return s;
    }

    private uint ReadU32() => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4, "header"));

    private ulong ReadU64() => BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8, "header"));

    private string ReadString()
    {
        ulong len = ReadU64();
        if (len > (ulong)(_size - _pos))
        {
            throw Fail($"truncated header: a string of {len} bytes at offset {_pos} runs past the end of the file");
        }
        if (len > MaxStringBytes)
        {
            throw Fail($"a string of {len} bytes at offset {_pos} is longer than any GGUF string may be ({MaxStringBytes} bytes)");
        }
        return GgufFile.DecodeString(ReadBytes((int)len, "string"));
    }

    private void Need(long n, string what)
    {
        if (n > _size - _pos)
        {
            throw Fail($"truncated header: {what} at offset {_pos} needs {n} bytes, file has {_size}");
        }
    }

    private static long AlignUp(long x, int a) => (x + a - 1) / a * a;

    private ModelFormatException Fail(string problem) => new(_path, problem);
}
