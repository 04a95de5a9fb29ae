using Sluice.Engine.Benchmarks;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Benchmarks;

/// <summary>The engine benchmark refuses sizes and measurements it was not built for before allocating anything.</summary>
public sealed class EngineBenchmarkTests
{
    [Theory]
    [InlineData(0, 64, "--threads must be from 1 to 512")]
    [InlineData(100_000, 64, "--threads must be from 1 to 512")]
    [InlineData(1, 0, "from 1 to 1024, got 0")]
    [InlineData(1, 1_000_000, "from 1 to 1024, got 1000000")]
    public void EngineBenchmark_HostileSizes_ThrowBeforeAllocating(int threads, int maxSeqs, string message)
    {
        using var model = TestModels.LoadTiny();
        var ex = Assert.Throws<ArgumentException>(() => new EngineBenchmark(model, threads, maxSeqs: maxSeqs));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void EngineBenchmark_MeasurementsBeyondItsSizes_Throw()
    {
        using var model = TestModels.LoadTiny();
        using var bench = new EngineBenchmark(model, 1, maxPrompt: 32, decodeSteps: 8, maxSeqs: 2);
        Assert.ThrowsAny<ArgumentException>(() => bench.PromptProcessing(33, 1));
        Assert.ThrowsAny<ArgumentException>(() => bench.PromptProcessing(0, 1));
        Assert.ThrowsAny<ArgumentException>(() => bench.PromptProcessing(8, 0));
        Assert.ThrowsAny<ArgumentException>(() => bench.Decode(3, 8, 1));
        Assert.ThrowsAny<ArgumentException>(() => bench.Decode(0, 8, 1));
        Assert.ThrowsAny<ArgumentException>(() => bench.Decode(2, 9, 1));
        Assert.True(bench.Decode(2, 8, 1) > 0);
        Assert.True(bench.PromptProcessing(32, 1) > 0);
    }
}
