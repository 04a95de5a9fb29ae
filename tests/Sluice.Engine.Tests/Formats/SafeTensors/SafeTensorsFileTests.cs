using System.Buffers.Binary;
using System.Text;
using Sluice.Engine.Formats;
using Sluice.Engine.Formats.SafeTensors;

namespace Sluice.Engine.Tests.Formats.SafeTensors;

/// <summary>The safetensors reader on files it wrote, and every malformed case with its error naming the file.</summary>
public sealed unsafe class SafeTensorsFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Open_WrittenFile_ReadsShapesDtypesAndBytesInPlace()
    {
        string path = Path.Combine(_dir, "a.safetensors");
        new SafeTensorsWriter()
            .Add("w", SafeTensorsDType.F16, [2, 3], Enumerable.Range(0, 12).Select(i => (byte)i).ToArray())
            .Add("b", SafeTensorsDType.F32, [3], new byte[12])
            .Write(path);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(0, file.DataOffset % 8);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.True(file.TryGetTensor("w", out var w));
        Assert.Equal(SafeTensorsDType.F16, w.DType);
        Assert.Equal([2L, 3L], w.Shape);
        Assert.Equal(11, file.TensorData(w)[11]);
        Assert.True(file.TryGetTensor("b", out var b));
        Assert.Equal(12, b.Begin);
    }

    [Fact]
    public void Open_TruncatedFile_SaysTruncatedAndNamesTheFile()
    {
        string path = Write("t.safetensors", Header("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"""), new byte[10]);
        AssertProblem(path, "truncated");
    }

    [Fact]
    public void Open_HeaderLengthPastTheEnd_SaysTruncated()
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        string path = Path.Combine(_dir, "h.safetensors");
        File.WriteAllBytes(path, bytes);
        AssertProblem(path, "runs past the end");
    }

    [Fact]
    public void Open_OffsetsThatDisagreeWithTheShape_AreRejected() =>
        AssertProblem(Write("o.safetensors", Header("""{"w":{"dtype":"F16","shape":[4],"data_offsets":[0,16]}}"""), new byte[16]), "needs 8");

    [Fact]
    public void Open_OverlappingTensors_AreRejected() =>
        AssertProblem(Write("v.safetensors", Header("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"""), new byte[12]), "overlap");

    [Fact]
    public void Open_OffsetsEndingBeforeTheyBegin_AreRejected() =>
        AssertProblem(Write("r.safetensors", Header("""{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"""), new byte[8]), "end before they begin");

    [Fact]
    public void Open_HeaderThatIsNotJson_SaysSo() =>
        AssertProblem(Write("j.safetensors", Header("""{"w": {"dtype": "F32", """), []), "not valid JSON");

    [Fact]
    public void Open_UnknownDtype_NamesIt() =>
        AssertProblem(Write("d.safetensors", Header("""{"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}"""), new byte[1]), "unknown dtype 'F4'");

    [Fact]
    public void Open_TinyFile_SaysTooShort()
    {
        string path = Path.Combine(_dir, "s.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        AssertProblem(path, "too short");
    }

    [Fact]
    public void Checkpoint_Sharded_FindsEveryTensorInItsShard()
    {
        string folder = WriteCheckpoint(maxShardBytes: 40);
        using var checkpoint = SafeTensorsCheckpoint.Open(folder);
        Assert.Equal(3, checkpoint.Shards.Count);
        Assert.Equal(3, checkpoint.TensorCount);
        Assert.True(checkpoint.TryGetTensor("c", out var file, out var info));
        Assert.EndsWith("model-00003-of-00003.safetensors", file.FilePath);
        Assert.Equal(3, file.TensorData(info)[0]);
    }

    [Fact]
    public void Checkpoint_MissingShard_NamesTheMissingFile()
    {
        string folder = WriteCheckpoint(maxShardBytes: 40);
        File.Delete(Path.Combine(folder, "model-00002-of-00003.safetensors"));
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorsCheckpoint.Open(folder));
        Assert.EndsWith("model-00002-of-00003.safetensors", ex.FilePath);
        Assert.Contains("missing", ex.Problem);
    }

    [Fact]
    public void Checkpoint_IndexPlacingATensorInTheWrongShard_NamesTheShard()
    {
        string folder = WriteCheckpoint(maxShardBytes: 40);
        string index = Path.Combine(folder, SafeTensorsIndex.FileName);
        File.WriteAllText(index, File.ReadAllText(index).Replace("\"c\": \"model-00003-of-00003.safetensors\"", "\"c\": \"model-00001-of-00003.safetensors\""));
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorsCheckpoint.Open(folder));
        Assert.EndsWith("model-00001-of-00003.safetensors", ex.FilePath);
        Assert.Contains("'c'", ex.Problem);
    }

    [Fact]
    public void Checkpoint_IndexNamingAPathOutsideTheFolder_IsRefused()
    {
        string folder = Path.Combine(_dir, "escape");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, SafeTensorsIndex.FileName), """{"weight_map": {"a": "../a.safetensors"}}""");
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorsCheckpoint.Open(folder));
        Assert.EndsWith(SafeTensorsIndex.FileName, ex.FilePath);
    }

    [Fact]
    public void Checkpoint_EmptyFolder_SaysWhatIsMissing()
    {
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorsCheckpoint.Open(_dir));
        Assert.Contains("model.safetensors", ex.Problem);
    }

    private string WriteCheckpoint(long? maxShardBytes)
    {
        string folder = Path.Combine(_dir, "ckpt");
        var writer = new SafeTensorsCheckpointWriter();
        foreach (var (name, value) in new[] { ("a", (byte)1), ("b", (byte)2), ("c", (byte)3) })
        {
            writer.Add(name, SafeTensorsDType.F32, [8], s => s.Write(Enumerable.Repeat(value, 32).ToArray()));
        }
        writer.Write(folder, maxShardBytes);
        return folder;
    }

    private static byte[] Header(string json)
    {
        var text = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + text.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)text.Length);
        text.CopyTo(bytes, 8);
        return bytes;
    }

    private string Write(string name, byte[] header, byte[] data)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, [.. header, .. data]);
        return path;
    }

    private static void AssertProblem(string path, string expected)
    {
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Equal(path, ex.FilePath);
        Assert.Contains(expected, ex.Problem);
    }
}
