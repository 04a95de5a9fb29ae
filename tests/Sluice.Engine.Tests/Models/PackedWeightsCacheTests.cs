using Sluice.Engine.Kernels;
using Sluice.Engine.Models;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Models;

/// <summary>
/// The packed-weights cache: the first load packs and writes the file, the next one reads it instead of packing, and
/// the model computes bit-identical logits either way; a file that does not match is rebuilt, and a folder that cannot
/// be written leaves the weights packed privately. (The test process runs with guarded memory, so the file is read
/// into guarded buffers here; the memory-mapped path runs in the server process tests.)
/// </summary>
public sealed unsafe class PackedWeightsCacheTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("sluice-packed-");

    public void Dispose() => _folder.Delete(recursive: true);

    private string Model(string type, ulong seed = 3)
    {
        var shape = ModelShape.Tiny with { Name = "pw", EmbeddingLength = 256, BlockCount = 2, HeadCount = 4, HeadCountKv = 2, FeedForwardLength = 512, VocabSize = null, Tied = false };
        Assert.True(WeightMix.TryParse(type, out var mix));
        string path = Path.Combine(_folder.FullName, $"pw-{type}-{seed}.gguf");
        ModelSynthesizer.Write(new SynthesisOptions(shape, mix, SynthVocabulary.Bytes()) { Seed = seed }, path);
        return path;
    }

    private static float[] Logits(LoadedModel m) => EngineTestKit.PromptLogits(m, "packed weights give the same logits");

    private string CacheFolder => Path.Combine(_folder.FullName, "cache");

    [SkippableTheory]
    [InlineData("Q8_0")]
    [InlineData("Q4_0")]
    [InlineData("Q4_K")]
    [InlineData("F16")]
    public void Prepare_BuildThenHit_SameLogitsAsPackingPrivately(string type)
    {
        Skip.IfNot(Simd.Use256, "nothing packs without AVX2");
        string path = Model(type);
        float[] reference;
        using (var plain = ModelLoader.Load(path))
        {
            Assert.Equal(PackedCacheOutcome.Disabled, PackedWeightsCache.Prepare(plain, null).Outcome);
            reference = Logits(plain);
        }
        using (var first = ModelLoader.Load(path))
        {
            var built = PackedWeightsCache.Prepare(first, CacheFolder);
            Assert.Equal(PackedCacheOutcome.Built, built.Outcome);
            Assert.True(File.Exists(built.File));
            Assert.Equal(reference, Logits(first));
        }
        using var second = ModelLoader.Load(path);
        var hit = PackedWeightsCache.Prepare(second, CacheFolder);
        Assert.Equal(PackedCacheOutcome.Hit, hit.Outcome);
        Assert.All(second.Weights.Matrices.Where(m => m.Packable), m => Assert.True(m.Packed != null, m.Name));
        Assert.Equal(reference, Logits(second));
        Assert.Single(Directory.GetFiles(CacheFolder));
    }

    [SkippableFact]
    public void Prepare_AnotherModel_GetsItsOwnFile()
    {
        Skip.IfNot(Simd.Use256, "nothing packs without AVX2");
        using (var a = ModelLoader.Load(Model("Q8_0", seed: 3)))
        {
            Assert.Equal(PackedCacheOutcome.Built, PackedWeightsCache.Prepare(a, CacheFolder).Outcome);
        }
        using (var b = ModelLoader.Load(Model("Q8_0", seed: 4)))
        {
            Assert.Equal(PackedCacheOutcome.Built, PackedWeightsCache.Prepare(b, CacheFolder).Outcome);
        }
        Assert.Equal(2, Directory.GetFiles(CacheFolder).Length);
    }

    [SkippableTheory]
    [InlineData("truncate")]
    [InlineData("table")]
    [InlineData("magic")]
    public void Prepare_DamagedFile_IsRebuiltAndTheModelStillRight(string damage)
    {
        Skip.IfNot(Simd.Use256, "nothing packs without AVX2");
        string path = Model("Q8_0");
        float[] reference;
        string file;
        using (var first = ModelLoader.Load(path))
        {
            file = PackedWeightsCache.Prepare(first, CacheFolder).File!;
            reference = Logits(first);
        }
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
        {
            switch (damage)
            {
                case "truncate":
                    stream.SetLength(stream.Length - 4096);
                    break;
                case "table":
                    stream.Position = 4096 + 3;
                    stream.WriteByte((byte)'#');
                    break;
                default:
                    stream.WriteByte(0);
                    break;
            }
        }
        using var second = ModelLoader.Load(path);
        var report = PackedWeightsCache.Prepare(second, CacheFolder);
        Assert.Equal(PackedCacheOutcome.Built, report.Outcome);
        Assert.NotNull(report.Reason); // why the old file was not used
        Assert.Equal(reference, Logits(second));
        using var third = ModelLoader.Load(path);
        Assert.Equal(PackedCacheOutcome.Hit, PackedWeightsCache.Prepare(third, CacheFolder).Outcome);
    }

    [SkippableFact]
    public void Prepare_FolderNotWritable_PacksPrivatelyAndSaysWhy()
    {
        Skip.IfNot(Simd.Use256, "nothing packs without AVX2");
        string path = Model("Q4_0");
        string blocked = Path.Combine(_folder.FullName, "a-file");
        File.WriteAllText(blocked, "not a folder");
        using var model = ModelLoader.Load(path);
        var report = PackedWeightsCache.Prepare(model, Path.Combine(blocked, "cache"));
        Assert.Equal(PackedCacheOutcome.Failed, report.Outcome);
        Assert.Contains("cannot write", report.Reason);
        Assert.All(model.Weights.Matrices.Where(m => m.Packable), m => Assert.True(m.Packed != null, m.Name));
    }

    [SkippableFact]
    public void Prepare_ModelFileTouched_GetsANewFile()
    {
        Skip.IfNot(Simd.Use256, "nothing packs without AVX2");
        string path = Model("Q8_0");
        using (var a = ModelLoader.Load(path))
        {
            Assert.Equal(PackedCacheOutcome.Built, PackedWeightsCache.Prepare(a, CacheFolder).Outcome);
        }
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(5));
        using var b = ModelLoader.Load(path);
        Assert.Equal(PackedCacheOutcome.Built, PackedWeightsCache.Prepare(b, CacheFolder).Outcome);
    }
}
