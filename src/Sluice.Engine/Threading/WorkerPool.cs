namespace Sluice.Engine.Threading;

/// <summary>
/// A persistent fork/join pool. The calling thread takes part in every run, so a pool of N threads
/// starts N-1 workers. Between runs the workers spin briefly (a decode step issues hundreds of runs a
/// few microseconds apart) and then park on a semaphore, so an idle engine burns no CPU. Indices are
/// handed out through one shared counter: fast threads take more, which balances uneven work.
/// Runs must not overlap: one thread (the engine loop) drives the pool at a time.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    // About 50 microseconds of spinning: the gap between a decode step's parallel regions is far
    // shorter, the gap between steps usually is not.
    private const int SpinIterations = 2000;

    private readonly Thread[] _workers;
    private readonly SemaphoreSlim _wake = new(0);
    private IParallelWork? _work;
    private int _count;
    private int _next;
    private int _pending; // workers that have not finished the current run
    private long _generation;
    private int _parked;
    private volatile bool _stopping;
    private Exception? _failure;

    public WorkerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ThreadCount = threads;
        _workers = new Thread[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"sluice-worker-{i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>Threads taking part in each run, the caller included.</summary>
    public int ThreadCount { get; }

    /// <summary>Physical cores of this machine as far as .NET can tell (logical processors, capped at 64).</summary>
    public static int DefaultThreadCount => Math.Clamp(Environment.ProcessorCount, 1, 64);

    /// <summary>Calls work.Execute(i) for every i in [0, count) across the pool and returns when all are done.</summary>
    public void Run(IParallelWork work, int count)
    {
        if (count <= 0)
        {
            return;
        }
        if (count == 1 || _workers.Length == 0)
        {
            for (int i = 0; i < count; i++)
            {
                work.Execute(i);
            }
            return;
        }
        _work = work;
        _count = count;
        _next = 0;
        _failure = null;
        Volatile.Write(ref _pending, _workers.Length);
        Interlocked.Increment(ref _generation);
        int parked = Interlocked.Exchange(ref _parked, 0);
        if (parked > 0)
        {
            _wake.Release(parked);
        }
        Drain();
        for (int spin = 0; Volatile.Read(ref _pending) != 0; spin++)
        {
            if ((spin & 63) == 63)
            {
                Thread.Yield();
            }
            else
            {
                Thread.SpinWait(4);
            }
        }
        _work = null;
        if (_failure != null)
        {
            throw new AggregateException("a parallel kernel failed", _failure);
        }
    }

    private void Drain()
    {
        var work = _work!;
        int count = _count;
        try
        {
            int i;
            while ((i = Interlocked.Increment(ref _next) - 1) < count)
            {
                work.Execute(i);
            }
        }
        catch (Exception ex)
        {
            _failure ??= ex;
            Volatile.Write(ref _next, count);
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        while (true)
        {
            long gen = WaitForRun(seen);
            if (_stopping)
            {
                return;
            }
            seen = gen;
            Drain();
            Interlocked.Decrement(ref _pending);
        }
    }

    private long WaitForRun(long seen)
    {
        while (true)
        {
            for (int spin = 0; spin < SpinIterations; spin++)
            {
                long gen = Volatile.Read(ref _generation);
                if (gen != seen || _stopping)
                {
                    return gen;
                }
                if ((spin & 63) == 63)
                {
                    // Give the core away if another thread wants it (oversubscribed machines, tests).
                    Thread.Yield();
                }
                else
                {
                    Thread.SpinWait(8);
                }
            }
            Interlocked.Increment(ref _parked);
            // Re-check after announcing: a run may have started before we counted ourselves parked.
            long now = Volatile.Read(ref _generation);
            if (now != seen || _stopping)
            {
                // Undo our parked count if nobody has consumed it; else absorb the release we will get.
                if (Interlocked.Decrement(ref _parked) < 0)
                {
                    Interlocked.Increment(ref _parked);
                    _wake.Wait();
                }
                return now;
            }
            _wake.Wait();
        }
    }

    public void Dispose()
    {
        _stopping = true;
        Interlocked.Increment(ref _generation);
        if (_workers.Length > 0)
        {
            _wake.Release(_workers.Length);
        }
        foreach (var w in _workers)
        {
            w.Join(TimeSpan.FromSeconds(5));
        }
        _wake.Dispose();
    }
}
