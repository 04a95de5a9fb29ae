using Sluice.Engine.Threading;

namespace Sluice.Engine.Tests.Threading;

public sealed class WorkerPoolTests
{
    private sealed class Counter(int n) : IParallelWork
    {
        public int[] Hits { get; } = new int[n];

        public void Execute(int index) => Interlocked.Increment(ref Hits[index]);
    }

    private sealed class Thrower : IParallelWork
    {
        public void Execute(int index)
        {
            if (index == 3)
            {
                throw new InvalidOperationException("boom");
            }
        }
    }

    [Fact]
    public void Run_ExecutesEveryIndexExactlyOnce_AcrossManyRuns()
    {
        using var pool = new WorkerPool(3);
        for (int run = 0; run < 2000; run++)
        {
            int n = run % 37;
            var c = new Counter(n);
            pool.Run(c, n);
            Assert.All(c.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void Run_AfterWorkersParked_StillCompletes()
    {
        using var pool = new WorkerPool(2);
        for (int i = 0; i < 3; i++)
        {
            Thread.Sleep(50); // long enough for the workers to stop spinning and park
            var c = new Counter(100);
            pool.Run(c, 100);
            Assert.All(c.Hits, h => Assert.Equal(1, h));
        }
    }

    /// <summary>
    /// Runs landing at random points of the workers' spin-then-park cycle, with more workers than cores:
    /// an earlier semaphore handshake lost a wake-up here (an idle worker took the release meant for
    /// one that still owed the run) and the pool hung.
    /// </summary>
    [Fact]
    public async Task Run_AtRandomPointsOfTheParkingCycle_NeverLosesAWakeUp()
    {
        var run = Task.Run(() =>
        {
            var rng = new Random(1);
            using var pool = new WorkerPool(3);
            for (int i = 0; i < 40000; i++)
            {
                int n = rng.Next(2, 9);
                var c = new Counter(n);
                pool.Run(c, n);
                Assert.All(c.Hits, h => Assert.Equal(1, h));
                int mode = rng.Next(100);
                if (mode < 2)
                {
                    Thread.Sleep(rng.Next(0, 2));
                }
                else if (mode < 30)
                {
                    Thread.SpinWait(rng.Next(0, 20000));
                }
            }
        });
        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromMinutes(2)));
        Assert.True(finished == run, "the pool stopped making progress");
        await run;
    }

    [Fact]
    public void Run_WorkThrows_RethrowsAndPoolStaysUsable()
    {
        using var pool = new WorkerPool(2);
        var ex = Assert.Throws<AggregateException>(() => pool.Run(new Thrower(), 10));
        Assert.IsType<InvalidOperationException>(ex.InnerException);
        var c = new Counter(10);
        pool.Run(c, 10);
        Assert.All(c.Hits, h => Assert.Equal(1, h));
    }
}
