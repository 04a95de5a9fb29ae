using System.Globalization;

namespace Sluice.Engine.Formats.SafeTensors;

/// <summary>
/// Writes a checkpoint into a folder the way Hugging Face saves one: a single <c>model.safetensors</c>,
/// or, when a shard size is given and the tensors exceed it, <c>model-0000i-of-0000n.safetensors</c>
/// shards (tensors kept whole, in the order added) plus <c>model.safetensors.index.json</c>.
/// </summary>
public sealed class SafeTensorsCheckpointWriter
{
    private readonly List<(string Name, SafeTensorsDType DType, long[] Shape, Action<Stream> Write)> _tensors = [];

    public SafeTensorsCheckpointWriter Add(string name, SafeTensorsDType dtype, long[] shape, Action<Stream> write)
    {
        _tensors.Add((name, dtype, shape, write));
        return this;
    }

    /// <summary>Writes the files; returns their names. <paramref name="maxShardBytes"/> null means one file.</summary>
    public IReadOnlyList<string> Write(string folder, long? maxShardBytes = null)
    {
        Directory.CreateDirectory(folder);
        var shards = new List<SafeTensorsWriter> { new() };
        foreach (var (name, dtype, shape, write) in _tensors)
        {
            long bytes = shape.Aggregate(1L, (n, d) => n * d) * SafeTensorsDTypes.ElementBytes(dtype);
            if (maxShardBytes is { } max && shards[^1].Count > 0 && shards[^1].DataBytes + bytes > max)
            {
                shards.Add(new SafeTensorsWriter());
            }
            shards[^1].Add(name, dtype, shape, write);
        }
        if (shards.Count == 1)
        {
            shards[0].Write(Path.Combine(folder, SafeTensorsCheckpoint.SingleFileName));
            return [SafeTensorsCheckpoint.SingleFileName];
        }
        var names = new List<string>();
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        int shardIndex = 0;
        foreach (var shard in shards)
        {
            string file = string.Create(CultureInfo.InvariantCulture, $"model-{++shardIndex:D5}-of-{shards.Count:D5}.safetensors");
            shard.Write(Path.Combine(folder, file));
            names.Add(file);
        }
        int tensorIndex = 0;
        for (int s = 0; s < shards.Count; s++)
        {
            for (int i = 0; i < shards[s].Count; i++)
            {
                weightMap[_tensors[tensorIndex++].Name] = names[s];
            }
        }
        new SafeTensorsIndex(weightMap, shards.Sum(s => s.DataBytes)).Write(Path.Combine(folder, SafeTensorsIndex.FileName));
        names.Add(SafeTensorsIndex.FileName);
        return names;
    }
}
