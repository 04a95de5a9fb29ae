using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Models;
using Sluice.Engine.Quantization;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Models;

/// <summary>Broken model files are refused with an error naming the file and the problem.</summary>
public sealed class ModelLoaderErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-badmodel-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Rewrites the tiny test model with changes to its metadata and tensors.</summary>
    private unsafe string Rewrite(string name, Action<Dictionary<string, GgufValue>> metadata, Func<GgufTensorInfo, (string Name, GgmlType Type, long[] Dims)?> tensor)
    {
        string path = Path.Combine(_dir, name + ".gguf");
        using var loaded = TestModels.LoadTiny();
        using var src = GgufFile.Open(loaded.Path);
        var meta = src.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        metadata(meta);
        var w = new GgufWriter();
        foreach (var (k, v) in meta)
        {
            w.Add(k, v);
        }
        foreach (var t in src.Tensors)
        {
            var change = tensor(t);
            if (change == null)
            {
                continue;
            }
            var (n, type, dims) = change.Value;
            long bytes = GgmlTypeInfo.RowBytes(type, dims[0]) * (dims.Aggregate(1L, (a, b) => a * b) / dims[0]);
            var data = new byte[bytes];
            src.TensorBytes(t)[..(int)Math.Min(bytes, t.ByteSize)].CopyTo(data);
            w.AddTensor(n, type, dims, data);
        }
        w.Write(path);
        return path;
    }

    private static (string, GgmlType, long[])? Same(GgufTensorInfo t) => (t.Name, t.Type, t.Dimensions);

    [Fact]
    public void Load_UnknownArchitecture_NamesIt()
    {
        var path = Rewrite("arch", m => m["general.architecture"] = new GgufValue(GgufValueType.String, "gpt9"), Same);
        var ex = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path));
        Assert.Contains("unknown architecture 'gpt9'", ex.Message);
        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public void Load_MissingTensor_NamesIt()
    {
        var path = Rewrite("missing", _ => { }, t => t.Name == "blk.1.ffn_down.weight" ? null : Same(t));
        var ex = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path));
        Assert.Contains("missing tensor 'blk.1.ffn_down.weight'", ex.Message);
    }

    [Fact]
    public void Load_ShapeMismatch_NamesTensorAndBothShapes()
    {
        var path = Rewrite("shape", _ => { }, t => t.Name == "blk.0.attn_q.weight" ? (t.Name, t.Type, [t.Dimensions[0], t.Dimensions[1] / 2]) : Same(t));
        var ex = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path));
        Assert.Contains("shape mismatch: tensor 'blk.0.attn_q.weight'", ex.Message);
        Assert.Contains("expected [64, 64]", ex.Message);
    }

    [Fact]
    public void Load_UnsupportedTensorType_NamesIt()
    {
        var path = Rewrite("type", _ => { }, t => t.Name == "blk.0.ffn_up.weight" ? (t.Name, GgmlType.Q5_0, t.Dimensions) : Same(t));
        var ex = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path));
        Assert.Contains("unsupported tensor type Q5_0 for tensor 'blk.0.ffn_up.weight'", ex.Message);
    }

    [Fact]
    public void Load_MissingHyperparameter_NamesIt()
    {
        var path = Rewrite("meta", m => m.Remove("llama.block_count"), Same);
        var ex = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path));
        Assert.Contains("missing metadata 'llama.block_count'", ex.Message);
    }

    [Fact]
    public void Load_Version2File_Loads()
    {
        var path = Rewrite("v2", _ => { }, Same);
        var bytes = File.ReadAllBytes(path);
        bytes[4] = 2;
        File.WriteAllBytes(path, bytes);
        using var m = ModelLoader.Load(path);
        Assert.Equal("llama", m.Config.Architecture);
    }
}
