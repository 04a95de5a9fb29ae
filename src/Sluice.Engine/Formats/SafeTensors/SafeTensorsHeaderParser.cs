using System.Buffers.Binary;
using System.Text.Json;

namespace Sluice.Engine.Formats.SafeTensors;

/// <summary>
/// Parses and checks a safetensors header: an 8-byte little-endian length, that many bytes of JSON
/// (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}</c>), then
/// the data section. Every tensor must lie inside the data the file actually holds, its byte range
/// must match its dtype and shape, and no two tensors may overlap; each failure names the file.
/// </summary>
internal static class SafeTensorsHeaderParser
{
    /// <summary>The reference implementation refuses headers over 100 MB; so does this one.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public sealed record Header(long DataOffset, IReadOnlyList<SafeTensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata);

    public static Header Parse(string path, ReadOnlySpan<byte> prefix, long fileSize)
    {
        if (fileSize < 8)
        {
            throw new ModelFormatException(path, $"file is {fileSize} bytes, too short to be a safetensors file (truncated?)");
        }
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
        {
            throw new ModelFormatException(path, $"header length {headerLength} is over the {MaxHeaderBytes} byte limit (not a safetensors file?)");
        }
        if ((long)headerLength > fileSize - 8)
        {
            throw new ModelFormatException(path, $"header length {headerLength} runs past the end of the {fileSize}-byte file (truncated?)");
        }
        long dataOffset = 8 + (long)headerLength;
        var json = prefix.Slice(8, (int)headerLength);
        var tensors = new List<SafeTensorInfo>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Bad(path, "header is not a JSON object");
            }
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(entry.Name))
                {
                    throw Bad(path, $"tensor '{entry.Name}' appears twice in the header");
                }
                if (entry.Name == "__metadata__")
                {
                    ReadMetadata(path, entry.Value, metadata);
                    continue;
                }
                tensors.Add(ReadTensor(path, entry.Name, entry.Value));
            }
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            throw new ModelFormatException(path, $"header is not valid JSON: {ex.Message}", ex);
        }
        CheckLayout(path, tensors, fileSize - dataOffset);
        return new Header(dataOffset, tensors, metadata);
    }

    private static SafeTensorInfo ReadTensor(string path, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw Bad(path, $"tensor '{name}': entry is not a JSON object");
        }
        string dtypeName = e.TryGetProperty("dtype", out var d) && d.ValueKind == JsonValueKind.String
            ? d.GetString()!
            : throw Bad(path, $"tensor '{name}': missing or non-string 'dtype'");
        if (!SafeTensorsDTypes.TryParse(dtypeName, out var dtype))
        {
            throw Bad(path, $"tensor '{name}': unknown dtype '{dtypeName}'");
        }
        long[] shape = ReadNumbers(path, name, e, "shape", -1);
        long[] offsets = ReadNumbers(path, name, e, "data_offsets", 2);
        var info = new SafeTensorInfo(name, dtype, shape, offsets[0], offsets[1]);
        if (info.End < info.Begin)
        {
            throw Bad(path, $"tensor '{name}': data_offsets [{info.Begin}, {info.End}] end before they begin");
        }
        long expected;
        try
        {
            expected = checked(info.ElementCount * SafeTensorsDTypes.ElementBytes(dtype));
        }
        catch (OverflowException)
        {
            throw Bad(path, $"tensor '{name}': shape {info.ShapeString} is too large");
        }
        if (info.ByteSize != expected)
        {
            throw Bad(path, $"tensor '{name}': data_offsets [{info.Begin}, {info.End}] hold {info.ByteSize} bytes but {dtypeName} {info.ShapeString} needs {expected}");
        }
        return info;
    }

    private static long[] ReadNumbers(string path, string name, JsonElement e, string key, int count)
    {
        if (!e.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array || (count >= 0 && array.GetArrayLength() != count))
        {
            throw Bad(path, $"tensor '{name}': missing or malformed '{key}'");
        }
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var v in array.EnumerateArray())
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out values[i]) || values[i] < 0)
            {
                throw Bad(path, $"tensor '{name}': '{key}' must hold non-negative integers");
            }
            i++;
        }
        return values;
    }

    private static void ReadMetadata(string path, JsonElement e, Dictionary<string, string> metadata)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw Bad(path, "__metadata__ is not a JSON object");
        }
        foreach (var kv in e.EnumerateObject())
        {
            metadata[kv.Name] = kv.Value.ValueKind == JsonValueKind.String ? kv.Value.GetString()! : kv.Value.GetRawText();
        }
    }

    /// <summary>Every range inside the data the file holds, and no overlaps (so no tensor aliases another).</summary>
    private static void CheckLayout(string path, List<SafeTensorInfo> tensors, long dataBytes)
    {
        SafeTensorInfo? previous = null;
        foreach (var t in tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            if (t.End > dataBytes)
            {
                throw Bad(path, $"tensor '{t.Name}' ends at byte {t.End} of the data section, but the file holds only {dataBytes} bytes of data (truncated, or the header lies about offsets)");
            }
            if (previous != null && t.Begin < previous.End && t.ByteSize > 0)
            {
                throw Bad(path, $"tensors '{previous.Name}' and '{t.Name}' overlap (data_offsets [{previous.Begin}, {previous.End}] and [{t.Begin}, {t.End}])");
            }
            if (t.ByteSize > 0)
            {
                previous = t;
            }
        }
    }

    private static ModelFormatException Bad(string path, string problem) => new(path, problem);
}
