namespace Sluice.Engine.Formats.SafeTensors;

/// <summary>
/// The weights of a Hugging Face folder: <c>model.safetensors</c>, or the shards that
/// <c>model.safetensors.index.json</c> lists, all memory-mapped. Tensors are found by their
/// checkpoint names; a shard the index names but the folder lacks, or a tensor the index places
/// in a shard that does not hold it, is an error naming that file.
/// </summary>
public sealed class SafeTensorsCheckpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";

    private readonly List<SafeTensorsFile> _shards;
    private readonly Dictionary<string, (SafeTensorsFile File, SafeTensorInfo Info)> _tensors;

    private SafeTensorsCheckpoint(string folder, string? indexPath, List<SafeTensorsFile> shards, Dictionary<string, (SafeTensorsFile, SafeTensorInfo)> tensors)
    {
        Folder = folder;
        IndexPath = indexPath;
        _shards = shards;
        _tensors = tensors;
    }

    public string Folder { get; }

    /// <summary>The index file when the checkpoint is sharded; null for a single file.</summary>
    public string? IndexPath { get; }

    public IReadOnlyList<SafeTensorsFile> Shards => _shards;

    public int TensorCount => _tensors.Count;

    public long TensorBytes => _tensors.Values.Sum(t => t.Info.ByteSize);

    /// <summary>Every tensor with the shard holding it, in name order.</summary>
    public IEnumerable<(SafeTensorsFile File, SafeTensorInfo Info)> Tensors =>
        _tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value);

    /// <summary>True when the folder has a single-file or sharded safetensors checkpoint.</summary>
    public static bool Exists(string folder) =>
        File.Exists(Path.Combine(folder, SafeTensorsIndex.FileName)) || File.Exists(Path.Combine(folder, SingleFileName));

    public static SafeTensorsCheckpoint Open(string folder, FileLoading loading = FileLoading.Map)
    {
        string indexPath = Path.Combine(folder, SafeTensorsIndex.FileName);
        if (File.Exists(indexPath))
        {
            return OpenSharded(folder, indexPath, loading);
        }
        string single = Path.Combine(folder, SingleFileName);
        if (!File.Exists(single))
        {
            throw new ModelFormatException(folder, $"no {SingleFileName} or {SafeTensorsIndex.FileName} in the folder");
        }
        var file = SafeTensorsFile.Open(single, loading);
        var tensors = file.Tensors.ToDictionary(t => t.Name, t => (file, t), StringComparer.Ordinal);
        return new SafeTensorsCheckpoint(folder, null, [file], tensors);
    }

    private static SafeTensorsCheckpoint OpenSharded(string folder, string indexPath, FileLoading loading)
    {
        var index = SafeTensorsIndex.Read(indexPath);
        var shards = new List<SafeTensorsFile>();
        try
        {
            var byName = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var name in index.ShardFiles)
            {
                string path = Path.Combine(folder, name);
                if (!File.Exists(path))
                {
                    throw new ModelFormatException(path, $"shard listed in {SafeTensorsIndex.FileName} is missing");
                }
                var shard = SafeTensorsFile.Open(path, loading);
                shards.Add(shard);
                byName[name] = shard;
            }
            var tensors = new Dictionary<string, (SafeTensorsFile, SafeTensorInfo)>(StringComparer.Ordinal);
            foreach (var (tensor, fileName) in index.WeightMap)
            {
                var shard = byName[fileName];
                if (!shard.TryGetTensor(tensor, out var info))
                {
                    throw new ModelFormatException(shard.FilePath, $"tensor '{tensor}' is not in this shard, though {SafeTensorsIndex.FileName} places it here");
                }
                tensors[tensor] = (shard, info);
            }
            return new SafeTensorsCheckpoint(folder, indexPath, shards, tensors);
        }
        catch
        {
            shards.ForEach(s => s.Dispose());
            throw;
        }
    }

    public bool TryGetTensor(string name, out SafeTensorsFile file, out SafeTensorInfo info)
    {
        if (_tensors.TryGetValue(name, out var t))
        {
            (file, info) = t;
            return true;
        }
        file = null!;
        info = null!;
        return false;
    }

    public void Dispose() => _shards.ForEach(s => s.Dispose());
}
