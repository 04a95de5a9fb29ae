using System.Diagnostics;
using Sluice.Cli.Benchmarking;

namespace Sluice.Cli.Tests.Benchmarking;

/// <summary>The open loop's sleep: below a millisecond, never early.</summary>
public sealed class PacerTests
{
    [Fact]
    public void SleepUntil_SubMillisecondSteps_NeverReturnsEarly()
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 1; i <= 50; i++)
        {
            long due = start + (long)(i * 0.0003 * Stopwatch.Frequency); // 0.3 ms apart, under Task.Delay's step
            Pacer.SleepUntil(due);
            Assert.True(Stopwatch.GetTimestamp() >= due, $"step {i} returned before its time");
        }
    }
}
