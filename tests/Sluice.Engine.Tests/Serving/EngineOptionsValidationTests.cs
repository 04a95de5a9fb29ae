using Sluice.Engine.Caching;
using Sluice.Engine.Models;
using Sluice.Engine.Scheduling;
using Sluice.Engine.Serving;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Serving;

/// <summary>
/// The library refuses settings no command line should have let through: each names its flag, and nothing
/// the settings size (threads, the KV cache, the step's buffers) is allocated first.
/// </summary>
public sealed class EngineOptionsValidationTests
{
    public static TheoryData<string, EngineOptions, string> Hostile => new()
    {
        { "seqs 0", new EngineOptions { MaxNumSeqs = 0 }, "--max-num-seqs must be from 1 to 65536, got 0" },
        { "seqs -1", new EngineOptions { MaxNumSeqs = -1 }, "--max-num-seqs must be from 1 to 65536, got -1" },
        { "seqs 1e9", new EngineOptions { MaxNumSeqs = 1_000_000_000 }, "--max-num-seqs must be from 1 to 65536" },
        { "tokens 0", new EngineOptions { MaxNumBatchedTokens = 0 }, "--max-num-batched-tokens must be from 1 to 1048576, got 0" },
        { "tokens max", new EngineOptions { MaxNumBatchedTokens = int.MaxValue }, "--max-num-batched-tokens must be from 1 to 1048576" },
        { "block 0", new EngineOptions { BlockSize = 0 }, "--block-size must be from 1 to 1024, got 0" },
        { "block huge", new EngineOptions { BlockSize = 1 << 30 }, "--block-size must be from 1 to 1024" },
        { "len 0", new EngineOptions { MaxModelLen = 0 }, "--max-model-len must be from 1" },
        { "len -5", new EngineOptions { MaxModelLen = -5 }, "--max-model-len must be from 1" },
        { "len past context", new EngineOptions { MaxModelLen = 4096 }, "max-model-len 4096 exceeds the model's context length 1024" },
        { "kv 0", new EngineOptions { KvCacheMemory = 0 }, "--kv-cache-memory must be a positive number of bytes, got 0" },
        { "kv -1", new EngineOptions { KvCacheMemory = -1 }, "--kv-cache-memory must be a positive number of bytes" },
        { "kv too small", new EngineOptions { KvCacheMemory = 100 }, "holds no block" },
        { "fraction NaN", new EngineOptions { KvCacheMemoryFraction = double.NaN }, "share of memory must be in (0, 1]" },
        { "fraction 0", new EngineOptions { KvCacheMemoryFraction = 0 }, "share of memory must be in (0, 1]" },
        { "fraction 2", new EngineOptions { KvCacheMemoryFraction = 2 }, "share of memory must be in (0, 1]" },
        { "dtype 7", new EngineOptions { KvCacheType = (KvCacheType)7 }, "--kv-cache-dtype 7 is not a KV cache type" },
        { "threads 0", new EngineOptions { Threads = 0 }, "--threads must be from 1 to 512, got 0" },
        { "threads -1", new EngineOptions { Threads = -1 }, "--threads must be from 1 to 512, got -1" },
        { "threads 100000", new EngineOptions { Threads = 100_000 }, "--threads must be from 1 to 512, got 100000" },
        { "policy 7", new EngineOptions { SchedulingPolicy = (SchedulingPolicy)7 }, "--scheduling-policy must be fcfs or priority, got '7'" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void LlmEngine_HostileOption_ThrowsNamingTheFlag(string name, EngineOptions options, string message)
    {
        using var model = TestModels.LoadTiny();
        var ex = Assert.Throws<ArgumentException>(() => new LlmEngine(model, options with { Threads = options.Threads ?? 1, KvCacheMemory = options.KvCacheMemory ?? (8 << 20) }));
        Assert.True(ex.Message.Contains(message, StringComparison.Ordinal), $"{name}: {ex.Message}");
    }

    [Fact]
    public void LlmEngine_KvCacheLargerThanMemory_IsRefusedBeforeAllocating()
    {
        using var tiny = TestModels.LoadTiny();
        // a header that claims a context of 2^30 tokens: 65536 full sequences would want terabytes
        using var model = new LoadedModel(tiny.Path, "gguf", tiny.Config with { ContextLength = 1 << 30 }, tiny.Weights, tiny.Tokenizer, null);
        var ex = Assert.Throws<ArgumentException>(() => new LlmEngine(model, new EngineOptions { MaxNumSeqs = 65536, KvCacheMemory = long.MaxValue, Threads = 1 }));
        Assert.Contains("of memory available; lower --kv-cache-memory", ex.Message);
    }

    [Fact]
    public void LlmEngine_StepBuffersLargerThanMemory_AreRefusedBeforeAllocating()
    {
        using var tiny = TestModels.LoadTiny();
        using var model = new LoadedModel(tiny.Path, "gguf", tiny.Config with { FeedForwardLength = 1 << 30 }, tiny.Weights, tiny.Tokenizer, null);
        var ex = Assert.Throws<ArgumentException>(() => new LlmEngine(model, new EngineOptions { KvCacheMemory = 8 << 20, Threads = 1 }));
        Assert.Contains("--max-num-batched-tokens 512 with --max-num-seqs 64 needs about", ex.Message);
    }

    [Fact]
    public void LlmEngine_SettingsAtTheirLimits_Run()
    {
        using var model = TestModels.LoadTiny();
        using var engine = new LlmEngine(model, new EngineOptions
        {
            MaxNumSeqs = EngineOptions.MaxSequences,
            MaxNumBatchedTokens = 4096,
            BlockSize = EngineOptions.MaxBlockSize,
            KvCacheMemory = 64 << 20,
            Threads = 1,
        });
        Assert.Equal(1024, engine.MaxModelLen);
    }
}
