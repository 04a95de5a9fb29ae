using System.Buffers.Binary;
using System.Text;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Formats.Gguf;

/// <summary>
/// Writes GGUF version 3 files. Metadata is kept in insertion order; tensor data is produced by a
/// callback at write time so multi-gigabyte models stream to disk without being held in memory.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<(string Key, GgufValue Value)> _metadata = [];
    private readonly List<PendingTensor> _tensors = [];

    private sealed record PendingTensor(string Name, GgmlType Type, long[] Dimensions, long ByteSize, Action<Stream> WriteData);

    public int Alignment { get; init; } = GgufFile.DefaultAlignment;

    public GgufWriter Add(string key, GgufValue value)
    {
        _metadata.RemoveAll(kv => kv.Key == key);
        _metadata.Add((key, value));
        return this;
    }

    public GgufWriter Add(string key, string value) => Add(key, new GgufValue(GgufValueType.String, value));
    public GgufWriter Add(string key, uint value) => Add(key, new GgufValue(GgufValueType.UInt32, value));
    public GgufWriter Add(string key, int value) => Add(key, new GgufValue(GgufValueType.Int32, value));
    public GgufWriter Add(string key, float value) => Add(key, new GgufValue(GgufValueType.Float32, value));
    public GgufWriter Add(string key, bool value) => Add(key, new GgufValue(GgufValueType.Bool, value));
    public GgufWriter Add(string key, string[] value) => Add(key, new GgufValue(GgufValueType.Array, value, GgufValueType.String));
    public GgufWriter Add(string key, float[] value) => Add(key, new GgufValue(GgufValueType.Array, value, GgufValueType.Float32));
    public GgufWriter Add(string key, int[] value) => Add(key, new GgufValue(GgufValueType.Array, value, GgufValueType.Int32));

    /// <summary>Adds a tensor whose bytes <paramref name="writeData"/> writes (exactly the type's size for these dimensions).</summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] dimensions, Action<Stream> writeData)
    {
        long elements = 1;
        foreach (var d in dimensions)
        {
            elements *= d;
        }
        long rowBytes = GgmlTypeInfo.RowBytes(type, dimensions[0]);
        if (rowBytes < 0)
        {
            throw new ArgumentException($"tensor '{name}': row length {dimensions[0]} is not a multiple of the {type} block size");
        }
        _tensors.Add(new PendingTensor(name, type, dimensions, rowBytes * (elements / dimensions[0]), writeData));
        return this;
    }

    public GgufWriter AddTensor(string name, GgmlType type, long[] dimensions, byte[] data) =>
        AddTensor(name, type, dimensions, s => s.Write(data));

    /// <summary>Writes the file (to a temporary name first, then renamed, so a crash leaves no half file).</summary>
    public void Write(string path)
    {
        string tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Write(fs);
        }
        File.Move(tmp, path, overwrite: true);
    }

    public void Write(Stream stream)
    {
        var header = new MemoryStream();
        WriteU32(header, GgufFile.Magic);
        WriteU32(header, 3);
        WriteU64(header, (ulong)_tensors.Count);
        var metadata = new List<(string Key, GgufValue Value)>(_metadata);
        if (Alignment != GgufFile.DefaultAlignment && !metadata.Exists(kv => kv.Key == "general.alignment"))
        {
            metadata.Add(("general.alignment", new GgufValue(GgufValueType.UInt32, (uint)Alignment)));
        }
        WriteU64(header, (ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(header, key);
            WriteU32(header, (uint)value.Type);
            WriteValue(header, value);
        }
        long offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(header, t.Name);
            WriteU32(header, (uint)t.Dimensions.Length);
            foreach (var d in t.Dimensions)
            {
                WriteU64(header, (ulong)d);
            }
            WriteU32(header, (uint)t.Type);
            WriteU64(header, (ulong)offset);
            offset = AlignUp(offset + t.ByteSize, Alignment);
        }
        Pad(header, header.Length);
        header.Position = 0;
        header.CopyTo(stream);

        foreach (var t in _tensors)
        {
            var counting = new CountingStream(stream);
            t.WriteData(counting);
            if (counting.Count != t.ByteSize)
            {
                throw new InvalidOperationException($"tensor '{t.Name}': wrote {counting.Count} bytes, expected {t.ByteSize}");
            }
            Pad(stream, t.ByteSize);
        }
    }

    private void Pad(Stream s, long written)
    {
        long pad = AlignUp(written, Alignment) - written;
        for (long i = 0; i < pad; i++)
        {
            s.WriteByte(0);
        }
    }

    private static long AlignUp(long x, int a) => (x + a - 1) / a * a;

    private static void WriteValue(Stream s, GgufValue v)
    {
        if (v.Type == GgufValueType.Array)
        {
            var a = (Array)v.Value;
            WriteU32(s, (uint)v.ElementType);
            WriteU64(s, (ulong)a.Length);
            foreach (var item in a)
            {
                WriteScalar(s, v.ElementType, item!);
            }
            return;
        }
        WriteScalar(s, v.Type, v.Value);
    }

    internal static void WriteScalar(Stream s, GgufValueType type, object value)
    {
        Span<byte> b = stackalloc byte[8];
        switch (type)
        {
            case GgufValueType.UInt8: s.WriteByte(Convert.ToByte(value, null)); break;
            case GgufValueType.Int8: s.WriteByte(unchecked((byte)Convert.ToSByte(value, null))); break;
            case GgufValueType.Bool: s.WriteByte((bool)value ? (byte)1 : (byte)0); break;
            case GgufValueType.UInt16: BinaryPrimitives.WriteUInt16LittleEndian(b, Convert.ToUInt16(value, null)); s.Write(b[..2]); break;
            case GgufValueType.Int16: BinaryPrimitives.WriteInt16LittleEndian(b, Convert.ToInt16(value, null)); s.Write(b[..2]); break;
            case GgufValueType.UInt32: BinaryPrimitives.WriteUInt32LittleEndian(b, Convert.ToUInt32(value, null)); s.Write(b[..4]); break;
            case GgufValueType.Int32: BinaryPrimitives.WriteInt32LittleEndian(b, Convert.ToInt32(value, null)); s.Write(b[..4]); break;
            case GgufValueType.Float32: BinaryPrimitives.WriteSingleLittleEndian(b, Convert.ToSingle(value, null)); s.Write(b[..4]); break;
            case GgufValueType.UInt64: BinaryPrimitives.WriteUInt64LittleEndian(b, Convert.ToUInt64(value, null)); s.Write(b); break;
            case GgufValueType.Int64: BinaryPrimitives.WriteInt64LittleEndian(b, Convert.ToInt64(value, null)); s.Write(b); break;
            case GgufValueType.Float64: BinaryPrimitives.WriteDoubleLittleEndian(b, Convert.ToDouble(value, null)); s.Write(b); break;
            case GgufValueType.String: WriteString(s, (string)value); break;
            default: throw new ArgumentException($"cannot write GGUF value type {type}");
        }
    }

    internal static void WriteString(Stream s, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        WriteU64(s, (ulong)bytes.Length);
        s.Write(bytes);
    }

    internal static void WriteU32(Stream s, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        s.Write(b);
    }

    internal static void WriteU64(Stream s, ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        s.Write(b);
    }

    /// <summary>Pass-through stream that counts bytes written, to check each tensor's size.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Count { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Count += count;
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Count += buffer.Length;
        }

        public override void WriteByte(byte value)
        {
            inner.WriteByte(value);
            Count++;
        }
    }
}
