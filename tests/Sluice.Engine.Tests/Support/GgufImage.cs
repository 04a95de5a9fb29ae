using Sluice.Engine.Formats.Gguf;

namespace Sluice.Engine.Tests.Support;

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
        GgufWriter.WriteU32(s, GgufFile.Magic);
        GgufWriter.WriteU32(s, Version);
        GgufWriter.WriteU64(s, TensorCount ?? (ulong)Tensors.Count);
        GgufWriter.WriteU64(s, MetadataCount ?? (ulong)Metadata.Count);
        foreach (var (key, value) in Metadata)
        {
            Positions.TryAdd("key:" + key, s.Position);
            GgufWriter.WriteString(s, key);
            GgufWriter.WriteU32(s, (uint)value.Type);
            if (value.Type == GgufValueType.Array)
            {
                var a = (Array)value.Value;
                GgufWriter.WriteU32(s, (uint)value.ElementType);
                GgufWriter.WriteU64(s, (ulong)a.Length);
                for (int i = 0; i < a.Length; i++)
                {
                    if (value.ElementType == GgufValueType.String)
                    {
                        Positions.TryAdd($"item:{key}:{i}", s.Position);
                    }
                    GgufWriter.WriteScalar(s, value.ElementType, a.GetValue(i)!);
                }
            }
            else
            {
                if (value.Type == GgufValueType.String)
                {
                    Positions.TryAdd("value:" + key, s.Position);
                }
                GgufWriter.WriteScalar(s, value.Type, value.Value);
            }
        }
        foreach (var t in Tensors)
        {
            Positions.TryAdd("tensor:" + t.Name, s.Position);
            GgufWriter.WriteString(s, t.Name);
            GgufWriter.WriteU32(s, (uint)t.Dimensions.Length);
            foreach (var d in t.Dimensions)
            {
                GgufWriter.WriteU64(s, (ulong)d);
            }
            GgufWriter.WriteU32(s, t.Type);
            GgufWriter.WriteU64(s, t.Offset);
        }
        while (s.Position % DataAlignment != 0)
        {
            s.WriteByte(0);
        }
        s.Write(Data);
        return s.ToArray();
    }
}
