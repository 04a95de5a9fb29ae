namespace Sluice.Engine.Threading;

/// <summary>
/// A persistent fork/join pool. The calling thread takes part in every run, so a pool of N threads
/// starts N-1 workers. Between runs the workers spin briefly (a decode step issues hundreds of runs a
/// few microseconds apart) and then park on a monitor, so an idle engine burns no CPU. Indices are
/// handed out through one shared counter: fast threads take more, which balances uneven work.
/// Runs must not overlap: one thread (the engine loop) drives the pool at a time.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    // About 50 microseconds of spinning: the gap between a decode step's parallel regions is far
    // shorter, the gap between steps usually is not.
    private const int SpinIterations = 2000;

    private readonly Thread[] _workers;
    private readonly object _parkLock = new();
    private IParallelWork? _work;
    private int _count;
    private int _next;
    private int _pending; // workers that have not finished the current run
    private long _generation;
    private int _parked;
    private volatile bool _stopping;
    private Exception? _failure;

    /// <summary>Most threads a pool takes (ggml's limit too): more is a mistake, not a machine.</summary>
    public const int MaxThreads = 512;

    public WorkerPool(int threads)
    {
        if (threads is < 1 or > MaxThreads)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, $"threads must be from 1 to {MaxThreads}, got {threads}");
        }
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
        WakeParked();
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
            Park(seen);
        }
    }

    // A parked worker sleeps on the monitor until the generation moves. The check happens under the
    // lock and Run pulses under it after bumping the generation, so no wake-up is lost; Run only takes
    // the lock when someone announced itself parked (announce, then check, so it cannot be missed).
    private void Park(long seen)
    {
        Interlocked.Increment(ref _parked);
        lock (_parkLock)
        {
            while (Volatile.Read(ref _generation) == seen && !_stopping)
            {
                Monitor.Wait(_parkLock);
            }
        }
        Interlocked.Decrement(ref _parked);
    }

    private void WakeParked()
    {
        if (Volatile.Read(ref _parked) > 0)
        {
            lock (_parkLock)
            {
                Monitor.PulseAll(_parkLock);
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        Interlocked.Increment(ref _generation);
        lock (_parkLock)
        {
            Monitor.PulseAll(_parkLock);
        }
        foreach (var w in _workers)
        {
            w.Join(TimeSpan.FromSeconds(5));
        }
    }
}
