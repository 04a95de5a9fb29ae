using System.Buffers.Binary;
using System.Text;
using Sluice.Engine.Formats.Gguf;

namespace Sluice.Engine.Tests.Formats;

/// <summary>
/// A GGUF file taken apart into fields that can be made to lie, then written back byte for byte: counts,
/// tensor dimensions, types and offsets are written as given, not derived, so a test can make any of them
/// disagree with the rest. <see cref="Positions"/> says where each string length landed in the last
/// <see cref="ToBytes"/>, for lies about lengths.
/// </summary>
public sealed class GgufImage
{
    public sealed record Tensor(string Name, long[] Dimensions, uint Type, ulong Offset);

    public uint Version { get; set; } = 3;
    public ulong? TensorCount { get; set; }
    public ulong? MetadataCount { get; set; }
    public List<(string Key, GgufValue Value)> Metadata { get; } = [];
    public List<Tensor> Tensors { get; } = [];

    /// <summary>The tensor data section (written after the header, padded to <see cref="DataAlignment"/>).</summary>
    public byte[] Data { get; set; } = [];

    /// <summary>Where the data section starts: the header padded to this, whatever general.alignment claims.</summary>
    public int DataAlignment { get; set; } = GgufFile.DefaultAlignment;

    /// <summary>File offset of the u64 length of each key ("key:NAME"), string value ("value:NAME"), array element ("item:NAME:i") and tensor name ("tensor:NAME").</summary>
    public Dictionary<string, long> Positions { get; } = new(StringComparer.Ordinal);

    public static GgufImage Of(GgufFile file)
    {
        var image = new GgufImage { Version = (uint)file.Version, DataAlignment = file.Alignment };
        foreach (var (key, value) in file.Metadata)
        {
            image.Metadata.Add((key, value));
        }
        foreach (var t in file.Tensors)
        {
            image.Tensors.Add(new Tensor(t.Name, (long[])t.Dimensions.Clone(), (uint)t.Type, (ulong)t.Offset));
        }
        image.Data = File.ReadAllBytes(file.FilePath)[(int)file.DataOffset..];
        return image;
    }

    public GgufImage Clone()
    {
        var c = new GgufImage
        {
            Version = Version,
            TensorCount = TensorCount,
            MetadataCount = MetadataCount,
            Data = Data,
            DataAlignment = DataAlignment,
        };
        c.Metadata.AddRange(Metadata);
        c.Tensors.AddRange(Tensors.Select(t => t with { Dimensions = (long[])t.Dimensions.Clone() }));
        return c;
    }

    public GgufValue Get(string key) => Metadata.First(kv => kv.Key == key).Value;

    /// <summary>Replaces a key's value (adding it when absent).</summary>
    public GgufImage Set(string key, GgufValue value)
    {
        int i = Metadata.FindIndex(kv => kv.Key == key);
        if (i < 0)
        {
            Metadata.Add((key, value));
        }
        else
        {
            Metadata[i] = (key, value);
        }
        return this;
    }

    public GgufImage Remove(string key)
    {
        Metadata.RemoveAll(kv => kv.Key == key);
        return this;
    }

    public GgufImage Change(string tensor, Func<Tensor, Tensor> change)
    {
        int i = Tensors.FindIndex(t => t.Name == tensor);
        Tensors[i] = change(Tensors[i]);
        return this;
    }

    public byte[] ToBytes()
    {
        Positions.Clear();
        var s = new MemoryStream();
        U32(s, GgufFile.Magic);
        U32(s, Version);
        U64(s, TensorCount ?? (ulong)Tensors.Count);
        U64(s, MetadataCount ?? (ulong)Metadata.Count);
        foreach (var (key, value) in Metadata)
        {
            Positions.TryAdd("key:" + key, s.Position);
            Str(s, key);
            U32(s, (uint)value.Type);
            if (value.Type == GgufValueType.Array)
            {
                var a = (Array)value.Value;
                U32(s, (uint)value.ElementType);
                U64(s, (ulong)a.Length);
                for (int i = 0; i < a.Length; i++)
                {
                    if (value.ElementType == GgufValueType.String)
                    {
                        Positions.TryAdd($"item:{key}:{i}", s.Position);
                    }
                    Scalar(s, value.ElementType, a.GetValue(i)!);
                }
            }
            else
            {
                if (value.Type == GgufValueType.String)
                {
                    Positions.TryAdd("value:" + key, s.Position);
                }
                Scalar(s, value.Type, value.Value);
            }
        }
        foreach (var t in Tensors)
        {
            Positions.TryAdd("tensor:" + t.Name, s.Position);
            Str(s, t.Name);
            U32(s, (uint)t.Dimensions.Length);
            foreach (var d in t.Dimensions)
            {
                U64(s, (ulong)d);
            }
            U32(s, t.Type);
            U64(s, t.Offset);
        }
        while (s.Position % DataAlignment != 0)
        {
            s.WriteByte(0);
        }
        s.Write(Data);
        return s.ToArray();
    }

    private static void Scalar(Stream s, GgufValueType type, object value)
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
            case GgufValueType.String: Str(s, (string)value); break;
            default: throw new ArgumentException($"cannot write GGUF value type {type}");
        }
    }

    private static void Str(Stream s, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        U64(s, (ulong)bytes.Length);
        s.Write(bytes);
    }

    private static void U32(Stream s, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        s.Write(b);
    }

    private static void U64(Stream s, ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        s.Write(b);
    }
}
