using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Quantization;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Formats.Gguf;

public sealed class GgufFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-gguf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static GgufWriter SmallModelWriter()
    {
        var w = new GgufWriter()
            .Add("general.architecture", "llama")
            .Add("llama.block_count", 2u)
            .Add("general.name", "unit")
            .Add("tokenizer.ggml.tokens", ["a", "b", "c"])
            .Add("tokenizer.ggml.scores", [0f, -1f, -2f]);
        var data = new byte[4 * 8 * 4];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)i;
        }
        w.AddTensor("w", GgmlType.F32, [8, 4], data);
        w.AddTensor("q", GgmlType.Q8_0, [64, 2], new byte[2 * 2 * 34]);
        return w;
    }

    [Fact]
    public void WriteThenOpen_MetadataAndTensorData_RoundTrip()
    {
        var path = PathOf("m.gguf");
        SmallModelWriter().Write(path);
        using var f = GgufFile.Open(path);
        Assert.Equal(3, f.Version);
        Assert.Equal("llama", f.GetString("general.architecture"));
        Assert.Equal(2, f.GetInt("llama.block_count"));
        Assert.Equal(["a", "b", "c"], f.GetArray<string>("tokenizer.ggml.tokens")!);
        Assert.Equal([0f, -1f, -2f], f.GetArray<float>("tokenizer.ggml.scores")!);
        var w = f.GetTensor("w");
        Assert.Equal(GgmlType.F32, w.Type);
        Assert.Equal(8, w.Columns);
        Assert.Equal(4, w.Rows);
        var bytes = f.TensorBytes(w);
        Assert.Equal(128, bytes.Length);
        Assert.Equal(77, bytes[77]);
        Assert.Equal(128, f.GetTensor("q").Offset - w.Offset);
    }

    [Fact]
    public void Open_WrongMagic_SaysNotGguf()
    {
        var path = PathOf("bad.gguf");
        File.WriteAllBytes(path, new byte[64]);
        var ex = Assert.Throws<ModelFormatException>(() => GgufFile.Open(path));
        Assert.Contains("wrong magic", ex.Message);
        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public void Open_UnsupportedVersion_NamesVersion()
    {
        var path = PathOf("v9.gguf");
        SmallModelWriter().Write(path);
        var bytes = File.ReadAllBytes(path);
        bytes[4] = 9;
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<ModelFormatException>(() => GgufFile.Open(path));
        Assert.Contains("unsupported GGUF version 9", ex.Message);
    }

    [Fact]
    public void Open_TruncatedTensorData_NamesTensor()
    {
        var path = PathOf("trunc.gguf");
        SmallModelWriter().Write(path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^40]);
        var ex = Assert.Throws<ModelFormatException>(() => GgufFile.Open(path));
        Assert.Contains("truncated tensor data", ex.Message);
        Assert.Contains("'q'", ex.Message);
    }

    [Fact]
    public void Open_TruncatedHeader_SaysTruncated()
    {
        var path = PathOf("trunch.gguf");
        SmallModelWriter().Write(path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..60]);
        var ex = Assert.Throws<ModelFormatException>(() => GgufFile.Open(path));
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void Open_EveryTruncationLength_ThrowsFormatErrorNeverCrashes()
    {
        var path = PathOf("all.gguf");
        SmallModelWriter().Write(path);
        var bytes = File.ReadAllBytes(path);
        long needed;
        using (var full = GgufFile.Open(path))
        {
            needed = full.Tensors.Max(t => full.DataOffset + t.Offset + t.ByteSize);
        }
        var cut = PathOf("cut.gguf");
        for (int len = 0; len < needed; len += 3)
        {
            File.WriteAllBytes(cut, bytes[..len]);
            Assert.Throws<ModelFormatException>(() => GgufFile.Open(cut));
        }
    }

    [Fact]
    public void Open_UnknownTensorType_NamesType()
    {
        var path = PathOf("type.gguf");
        new GgufWriter().Add("general.architecture", "llama")
            .AddTensor("t", GgmlType.F32, [4], new byte[16]).Write(path);
        var bytes = File.ReadAllBytes(path);
        // The tensor type is the u32 right before the tensor's u64 offset at the end of the header.
        int typePos = IndexOfTensorName(bytes, "t") + 1 + 4 + 8;
        bytes[typePos] = 200;
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<ModelFormatException>(() => GgufFile.Open(path));
        Assert.Contains("unknown tensor type 200", ex.Message);
    }

    [Fact]
    public void Open_MissingFile_SaysNotFound()
    {
        var ex = Assert.Throws<ModelFormatException>(() => GgufFile.Open(PathOf("nope.gguf")));
        Assert.Contains("not found", ex.Message);
    }

    [Fact]
    public void GetTensor_Missing_NamesTensor()
    {
        var path = PathOf("m.gguf");
        SmallModelWriter().Write(path);
        using var f = GgufFile.Open(path);
        var ex = Assert.Throws<ModelFormatException>(() => f.GetTensor("blk.0.attn_q.weight"));
        Assert.Contains("missing tensor 'blk.0.attn_q.weight'", ex.Message);
    }

    [SkippableFact]
    public void Open_EveryConformanceModel_ReadsShapes()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(Conformance.Dir, "models"), "*.gguf"))
        {
            using var f = GgufFile.Open(file);
            Assert.True(f.Version is 2 or 3);
            Assert.NotNull(f.GetString("general.architecture"));
            Assert.Contains(f.Tensors, t => t.Name == "token_embd.weight");
            long end = f.Tensors.Max(t => f.DataOffset + t.Offset + t.ByteSize);
            Assert.True(end <= f.FileSize);
        }
    }

    private static int IndexOfTensorName(byte[] bytes, string name)
    {
        // tensor name is encoded as u64 length then bytes; find the last occurrence of that pattern.
        var pattern = new byte[8 + name.Length];
        BitConverter.GetBytes((ulong)name.Length).CopyTo(pattern, 0);
        System.Text.Encoding.UTF8.GetBytes(name).CopyTo(pattern, 8);
        int idx = bytes.AsSpan().LastIndexOf(pattern);
        return idx + pattern.Length - 1;
    }
}
