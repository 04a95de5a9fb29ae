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
