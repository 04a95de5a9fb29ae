using System.Text;
using Sluice.Engine.Caching;
using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Formats.SafeTensors;
using Sluice.Engine.Kernels;
using Sluice.Engine.Models;
using Sluice.Engine.Models.HuggingFace;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Models.HuggingFace;

/// <summary>Loading folders: sharding, quantization at load, and the errors for broken folders.</summary>
[Collection(HfFolderCollection.Name)]
public sealed unsafe class HfModelLoaderTests(HfFolders folders)
{
    [SkippableFact]
    public void Load_ShardedAndUnshardedFolders_GiveIdenticalLogProbabilities()
    {
        string single = folders.FromConformance("tiny-qwen2-f16", SafeTensorsDType.F16);
        string sharded = folders.FromConformance("tiny-qwen2-f16", SafeTensorsDType.F16, maxShardBytes: 1 << 16);
        Assert.True(File.Exists(Path.Combine(sharded, SafeTensorsIndex.FileName)));
        Assert.True(Directory.GetFiles(sharded, "model-*-of-*.safetensors").Length > 2);
        string golden = Conformance.Golden("tiny-qwen2-f16.jsonl", f32Kv: true);
        using var a = ModelLoader.Load(single);
        using var b = ModelLoader.Load(sharded);
        var sa = TeacherForcing.Run(a.Weights, golden, KvCacheType.F32, 0.1, prompts: 3);
        var sb = TeacherForcing.Run(b.Weights, golden, KvCacheType.F32, 0.1, prompts: 3);
        Assert.Equal(sa.Deltas, sb.Deltas);
    }

    [SkippableTheory]
    [InlineData("Q8_0", "tiny-llama-q8_0")]
    [InlineData("Q4_0", "tiny-llama-q4_0")]
    public void QuantizationAtLoad_F16Folder_EqualsLlamaQuantizeOfTheSameWeights(string mixName, string quantizedModel)
    {
        Assert.True(WeightMix.TryParse(mixName, out var mix));
        string folder = folders.FromConformance("tiny-llama-f16", SafeTensorsDType.F16);
        using var loaded = ModelLoader.Load(folder, new ModelLoadOptions { Quantization = mix, Threads = 2 });
        using var gguf = GgufFile.Open(Conformance.Model(quantizedModel + ".gguf"));
        var w = loaded.Weights;
        AssertSameRows(gguf, "token_embd.weight", w.TokenEmbedding, permuteHeadDim: 0);
        AssertSameRows(gguf, "output.weight", w.Output, permuteHeadDim: 0);
        for (int i = 0; i < w.Layers.Count; i++)
        {
            var l = w.Layers[i];
            AssertSameRows(gguf, $"blk.{i}.attn_q.weight", l.Q, w.Config.HeadDim);
            AssertSameRows(gguf, $"blk.{i}.attn_k.weight", l.K, w.Config.HeadDim);
            AssertSameRows(gguf, $"blk.{i}.attn_v.weight", l.V, 0);
            AssertSameRows(gguf, $"blk.{i}.attn_output.weight", l.O, 0);
            AssertSameRows(gguf, $"blk.{i}.ffn_gate.weight", l.Gate, 0);
            AssertSameRows(gguf, $"blk.{i}.ffn_up.weight", l.Up, 0);
            AssertSameRows(gguf, $"blk.{i}.ffn_down.weight", l.Down, 0);
        }
    }

    [SkippableFact]
    public void Load_QuantizedToQ8AtLoad_MatchesLlamaCppWithinTheQuantizedTolerance()
    {
        string folder = folders.FromConformance("tiny-llama-f16", SafeTensorsDType.F16);
        using var loaded = ModelLoader.Load(folder, new ModelLoadOptions { Quantization = WeightMix.Q8_0, Threads = 2 });
        var stats = TeacherForcing.Run(loaded.Weights, Conformance.Golden("tiny-llama-q8_0.jsonl", f32Kv: true), KvCacheType.F32, 1.0);
        Assert.True(stats.Median <= 1e-3 && stats.Max <= 1.0 && stats.GreedyMismatches.Count == 0, stats.ToString());
    }

    [SkippableFact]
    public void Load_BF16Folder_RunsWithinTheFloatActivationBudget()
    {
        string folder = folders.FromConformance("tiny-qwen2-f16", SafeTensorsDType.BF16);
        using var loaded = ModelLoader.Load(folder);
        Assert.Equal(Engine.Quantization.GgmlType.BF16, loaded.Weights.TokenEmbedding.Type);
        var stats = TeacherForcing.Run(loaded.Weights, Conformance.Golden("tiny-qwen2-f16.jsonl", f32Kv: true), KvCacheType.F32, 1.0, prompts: 4);
        Assert.True(stats.Median <= 0.25 && stats.Max <= 1.5 && stats.GreedyMismatches.Count == 0, stats.ToString());
    }

    [SkippableFact]
    public void Load_Folder_SaysItFoundAHuggingFaceFolderAndReadsGenerationConfig()
    {
        using var loaded = ModelLoader.Load(folders.FromConformance("tiny-qwen2-f16", SafeTensorsDType.F16));
        Assert.Equal("hf", loaded.Format);
        Assert.Equal(RopeLayout.NeoX, loaded.Config.RopeLayout);
        Assert.True(loaded.Weights.TiedOutput);
        Assert.Equal([151643], loaded.Generation!.EosTokenIds);
        using var gguf = ModelLoader.Load(Conformance.Model("tiny-qwen2-f16.gguf"));
        Assert.Equal("gguf", gguf.Format);
    }

    [SkippableFact]
    public void Load_MissingConfigField_NamesConfigJsonAndTheField()
    {
        string folder = folders.CopyOf(folders.FromConformance("tiny-qwen2-f16", SafeTensorsDType.F16));
        string config = Path.Combine(folder, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"hidden_size\"", "\"hidden_size_gone\""));
        var ex = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder));
        Assert.Equal(config, ex.FilePath);
        Assert.Contains("'hidden_size'", ex.Problem);
    }

    [SkippableFact]
    public void Load_UnsupportedDtype_NamesTheShardAndTensor()
    {
        string folder = folders.CopyOf(folders.FromConformance("tiny-qwen2-f16", SafeTensorsDType.F16));
        string shard = Path.Combine(folder, "model.safetensors");
        ReplaceInHeader(shard, "\"model.norm.weight\":{\"dtype\":\"F32\"", "\"model.norm.weight\":{\"dtype\":\"I32\"");
        var ex = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder));
        Assert.Equal(shard, ex.FilePath);
        Assert.Contains("'model.norm.weight' has dtype I32", ex.Problem);
    }

    [SkippableFact]
    public void Load_MissingShard_NamesTheShard()
    {
        string folder = folders.CopyOf(folders.FromConformance("tiny-qwen2-f16", SafeTensorsDType.F16, maxShardBytes: 1 << 16));
        string victim = Directory.GetFiles(folder, "model-00002-of-*.safetensors").Single();
        File.Delete(victim);
        var ex = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder));
        Assert.Equal(victim, ex.FilePath);
    }

    [SkippableFact]
    public void Load_TruncatedShard_NamesTheShard()
    {
        string folder = folders.CopyOf(folders.FromConformance("tiny-qwen2-f16", SafeTensorsDType.F16));
        string shard = Path.Combine(folder, "model.safetensors");
        using (var s = new FileStream(shard, FileMode.Open))
        {
            s.SetLength(s.Length - 1000);
        }
        var ex = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder));
        Assert.Equal(shard, ex.FilePath);
        Assert.Contains("truncated", ex.Problem);
    }

    [SkippableFact]
    public void Load_ShapeThatDisagreesWithConfig_NamesTheTensor()
    {
        string folder = folders.CopyOf(folders.FromConformance("tiny-qwen2-f16", SafeTensorsDType.F16));
        string config = Path.Combine(folder, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"intermediate_size\": 128", "\"intermediate_size\": 256"));
        var ex = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder));
        Assert.Contains("blk.0.ffn_gate.weight", ex.Problem);
    }

    [SkippableFact]
    public void Load_MissingTokenizerJson_NamesIt()
    {
        string folder = folders.CopyOf(folders.FromConformance("tiny-qwen2-f16", SafeTensorsDType.F16));
        File.Delete(Path.Combine(folder, "tokenizer.json"));
        var ex = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder));
        Assert.EndsWith("tokenizer.json", ex.FilePath);
    }

    [Fact]
    public void Load_FolderWithoutConfig_SaysItIsNotAModelFolder()
    {
        string folder = Directory.CreateTempSubdirectory("sluice-empty-").FullName;
        try
        {
            var ex = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder));
            Assert.Contains("config.json", ex.Problem);
        }
        finally
        {
            Directory.Delete(folder);
        }
    }

    private static void ReplaceInHeader(string path, string from, string to)
    {
        Assert.Equal(Encoding.UTF8.GetByteCount(from), Encoding.UTF8.GetByteCount(to));
        var bytes = File.ReadAllBytes(path);
        int at = bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(from));
        Assert.True(at > 0, $"'{from}' not in the header");
        Encoding.UTF8.GetBytes(to).CopyTo(bytes, at);
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Row r of the folder's matrix equals the GGUF's row r (or, for llama q/k, the row r was permuted to).</summary>
    private static void AssertSameRows(GgufFile gguf, string name, WeightMatrix ours, int permuteHeadDim)
    {
        var t = gguf.GetTensor(name);
        Assert.True(t.Type == ours.Type, $"{name}: llama-quantize chose {t.Type}, load-time quantization {ours.Type}");
        long rowBytes = ours.RowBytes;
        byte* theirs = gguf.TensorData(t);
        for (int r = 0; r < ours.Rows; r++)
        {
            int g = permuteHeadDim > 0 ? RotaryPermutation.GgufRowForHfRow(r, permuteHeadDim) : r;
            var a = new ReadOnlySpan<byte>(ours.Row(r), (int)rowBytes);
            var b = new ReadOnlySpan<byte>(theirs + g * rowBytes, (int)rowBytes);
            Assert.True(a.SequenceEqual(b), $"{name}: row {r} differs");
        }
    }
}
