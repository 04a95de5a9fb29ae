using Sluice.Cli.Capacity;
using Sluice.Cli.Tests.Support;
using Sluice.Engine.Caching;
using Sluice.Engine.Models;
using Sluice.Engine.Serving;

namespace Sluice.Cli.Tests.Commands;

public sealed class CapacityCommandTests
{
    // 2 layers x 2 KV heads x 32 dims, keys and values: f16 2*2*2*32*2 = 512 B a token, f32 1024, q8_0 2*2*2*34 = 272
    [Fact]
    public void Capacity_TinyModel_ReportsKvBytesPerTokenByTypeAndTheServeFlags()
    {
        string model = TinyModels.HeadDim32();
        var (rc, output, error) = CliRunner.Run("capacity", "--model", model, "--concurrency", "4", "--prompt-tokens", "100", "--output-tokens", "28");
        Assert.True(rc == 0, error);
        Assert.Contains("KV per token:   *f16 512 B, f32 1,024 B, q8_0 272 B", output);
        // 4 sequences x 8 blocks of 16 tokens x 512 B
        Assert.Contains("KV cache:       262,144 bytes", output);
        Assert.Contains($"serve flags:    --model {model} --max-num-seqs 4 --max-model-len 128 --kv-cache-memory 1MiB --kv-cache-dtype f16 --block-size 16", output);
    }

    [Fact]
    public void Capacity_KvBytes_MatchWhatTheEngineAllocatesForTheSameFlags()
    {
        using var model = ModelLoader.Load(TinyModels.HeadDim32());
        var load = new CapacityLoad(3, 90, 10, 16, KvCacheType.Q8_0, 64);
        var plan = CapacityPlan.Compute(model.Config, model.WeightBytes, load, memory: null);
        using var engine = new LlmEngine(model, new EngineOptions
        {
            MaxNumSeqs = 3,
            MaxModelLen = 100,
            MaxNumBatchedTokens = 64,
            KvCacheMemory = plan.KvBytes,
            KvCacheType = KvCacheType.Q8_0,
            Threads = 1,
        });
        Assert.Equal(plan.KvBytes, engine.KvCacheBytes);
        Assert.Equal(3 * 7, engine.KvBlocks);
        Assert.Equal(100, engine.MaxModelLen);
    }

    [Fact]
    public void Capacity_MemoryTooSmallForTheLoad_ReportsWhatFitsAndExitsOne()
    {
        string model = TinyModels.HeadDim32();
        using var loaded = ModelLoader.Load(model);
        var twoSequences = CapacityPlan.Compute(loaded.Config, loaded.WeightBytes, new CapacityLoad(2, 100, 28, 16, KvCacheType.F16, 512), memory: null);
        var (rc, output, error) = CliRunner.Run("capacity", "--model", model, "--concurrency", "4", "--prompt-tokens", "100", "--output-tokens", "28",
            "--memory", twoSequences.TotalBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(rc == 1, error);
        Assert.Contains("DOES NOT FIT", output);
        Assert.Contains("largest concurrency at 128 tokens: 2", output);
        Assert.Contains("--max-num-seqs 2 --max-model-len 128", output);
        Assert.Equal("", error);
    }

    [Fact]
    public void Capacity_MemoryBelowTheWeights_SaysNothingFits()
    {
        var (rc, output, error) = CliRunner.Run("capacity", "--model", TinyModels.HeadDim32(), "--prompt-tokens", "100", "--output-tokens", "28", "--memory", "64KiB");
        Assert.Equal(1, rc);
        Assert.Contains("error: cannot fit: even one sequence", error);
        Assert.DoesNotContain("serve flags", output);
    }

    [Theory]
    [InlineData("--prompt-tokens", "600", "is 856 tokens, more than the model's context length 512")]
    [InlineData("--kv-cache-dtype", "q4", "--kv-cache-dtype 'q4': use f16, f32 or q8_0")]
    [InlineData("--memory", "lots", "--memory 'lots' is not a size")]
    [InlineData("--concurrency", "0", "--concurrency must be a whole number from 1 to 65536, got '0'")]
    public void Capacity_BadInput_NamesTheProblemAndExitsTwo(string flag, string value, string message)
    {
        var (rc, _, error) = CliRunner.Run("capacity", "--model", TinyModels.HeadDim32(), flag, value);
        Assert.Equal(2, rc);
        Assert.Contains(message, error);
    }

    [Fact]
    public void Capacity_FolderOfOneGgufFile_ReadsThatFileAsKServeMountsIt()
    {
        var dir = Directory.CreateTempSubdirectory("sluice-mnt-models-");
        try
        {
            File.Copy(TinyModels.HeadDim32(), Path.Combine(dir.FullName, "any-name.gguf"));
            var (rc, output, error) = CliRunner.Run("capacity", "--model", dir.FullName, "--prompt-tokens", "100", "--output-tokens", "28", "--concurrency", "1");
            Assert.True(rc == 0, error);
            Assert.Contains("KV cache:       65,536 bytes", output);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Capacity_MissingModel_NamesThePath()
    {
        var (rc, _, error) = CliRunner.Run("capacity", "--model", "/nonexistent/model.gguf");
        Assert.Equal(2, rc);
        Assert.Contains("--model '/nonexistent/model.gguf': no such file or folder", error);
    }
}
