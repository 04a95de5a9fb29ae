using System.Text.Json;

namespace Sluice.Engine.Formats.SafeTensors;

/// <summary>
/// <c>model.safetensors.index.json</c> of a sharded checkpoint: which shard file holds each tensor
/// (<c>weight_map</c>) and the total tensor bytes (<c>metadata.total_size</c>).
/// </summary>
public sealed record SafeTensorsIndex(IReadOnlyDictionary<string, string> WeightMap, long? TotalSize)
{
    public const string FileName = "model.safetensors.index.json";

    /// <summary>The shard files in the order they first appear (sorted by name, which is their numbering).</summary>
    public IReadOnlyList<string> ShardFiles => [.. WeightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    public static SafeTensorsIndex Read(string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            throw new ModelFormatException(path, $"not valid JSON: {ex.Message}", ex);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFormatException(path, "missing 'weight_map' object");
            }
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var kv in map.EnumerateObject())
            {
                string file = kv.Value.ValueKind == JsonValueKind.String ? kv.Value.GetString()! : "";
                // Shards live beside the index: a path that leaves the folder is refused, not followed.
                if (file.Length == 0 || file != Path.GetFileName(file) || file is "." or "..")
                {
                    throw new ModelFormatException(path, $"weight_map entry '{kv.Name}' names '{kv.Value}', not a file name in this folder");
                }
                weightMap[kv.Name] = file;
            }
            long? total = doc.RootElement.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object
                && meta.TryGetProperty("total_size", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt64(out long v) ? v : null;
            return new SafeTensorsIndex(weightMap, total);
        }
    }

    public void Write(string path)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("metadata");
        if (TotalSize is { } total)
        {
            json.WriteNumber("total_size", total);
        }
        json.WriteEndObject();
        json.WriteStartObject("weight_map");
        foreach (var (name, file) in WeightMap.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            json.WriteString(name, file);
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
