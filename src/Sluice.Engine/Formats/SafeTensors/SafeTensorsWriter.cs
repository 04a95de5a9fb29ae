using System.Buffers.Binary;
using System.Text.Json;

namespace Sluice.Engine.Formats.SafeTensors;

/// <summary>
/// Writes one safetensors file: tensors laid out back to back in the order added, the header padded
/// with spaces to a multiple of 8 bytes (as the reference writer does) so the data starts aligned.
/// Tensor bytes are streamed from callbacks, so multi-gigabyte files need no buffer of that size.
/// </summary>
public sealed class SafeTensorsWriter
{
    private readonly List<(string Name, SafeTensorsDType DType, long[] Shape, long Bytes, Action<Stream> Write)> _tensors = [];
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal) { ["format"] = "pt" };

    public int Count => _tensors.Count;

    /// <summary>Bytes of tensor data added so far.</summary>
    public long DataBytes => _tensors.Sum(t => t.Bytes);

    public SafeTensorsWriter AddMetadata(string key, string value)
    {
        _metadata[key] = value;
        return this;
    }

    /// <summary>Adds a tensor whose <paramref name="write"/> callback must write exactly its bytes.</summary>
    public SafeTensorsWriter Add(string name, SafeTensorsDType dtype, long[] shape, Action<Stream> write)
    {
        if (name == "__metadata__" || _tensors.Exists(t => t.Name == name))
        {
            throw new ArgumentException($"tensor name '{name}' is reserved or already added");
        }
        long bytes = shape.Aggregate(1L, (n, d) => checked(n * d)) * SafeTensorsDTypes.ElementBytes(dtype);
        _tensors.Add((name, dtype, shape, bytes, write));
        return this;
    }

    public SafeTensorsWriter Add(string name, SafeTensorsDType dtype, long[] shape, byte[] data) =>
        Add(name, dtype, shape, s => s.Write(data));

    public void Write(string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Write(stream);
    }

    public void Write(Stream stream)
    {
        var header = HeaderBytes();
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        foreach (var t in _tensors)
        {
            long before = stream.Position;
            t.Write(stream);
            if (stream.Position - before != t.Bytes)
            {
                throw new InvalidOperationException($"tensor '{t.Name}': wrote {stream.Position - before} bytes, expected {t.Bytes}");
            }
        }
    }

    private byte[] HeaderBytes()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, value) in _metadata)
            {
                json.WriteString(key, value);
            }
            json.WriteEndObject();
            long offset = 0;
            foreach (var t in _tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.ToString());
                json.WriteStartArray("shape");
                foreach (var d in t.Shape)
                {
                    json.WriteNumberValue(d);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.Bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.Bytes;
            }
            json.WriteEndObject();
        }
        int padded = (int)((buffer.Length + 7) / 8 * 8);
        while (buffer.Length < padded)
        {
            buffer.WriteByte((byte)' ');
        }
        return buffer.ToArray();
    }
}
