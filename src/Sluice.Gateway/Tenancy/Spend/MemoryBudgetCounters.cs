using System.Collections.Concurrent;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// Budget counters in this process (no Redis): one gateway's view. Seeding marks the counter first and then reads the
/// spend log, and settlements that come in meanwhile add to it, so a request is never missed (one that committed just
/// before the read can count twice until the counter is seeded again: the error is on the safe side). Counters idle
/// for an hour with nothing reserved are dropped (and seeded again when used).
/// </summary>
public sealed class MemoryBudgetCounters(TimeProvider time) : IBudgetCounters
{
    private static readonly TimeSpan IdleFor = TimeSpan.FromHours(1);

    private sealed class Counter
    {
        public long Spent;
        public long Reserved;
        public bool Seeded;
        public bool Dropped;
        public Task? Seeding;
        public long LastUsed;
    }

    private readonly ConcurrentDictionary<BudgetCounterId, Counter> _counters = new();
    private long _lastSweep = time.GetTimestamp();

    public string Description => "memory";

    /// <summary>Counters held (for tests and diagnostics).</summary>
    public int Count => _counters.Count;

    public async Task<BudgetAnswer> ReserveAsync(BudgetCounterId id, long limit, long worst, Func<CancellationToken, Task<long>> seed,
        CancellationToken cancellationToken)
    {
        Sweep();
        while (true)
        {
            var counter = _counters.GetOrAdd(id, _ => new Counter());
            Task? seeding = null;
            lock (counter)
            {
                if (counter.Dropped)
                {
                    continue;
                }
                counter.LastUsed = time.GetTimestamp();
                if (counter.Seeded)
                {
                    if (counter.Spent + counter.Reserved >= limit)
                    {
                        return new BudgetAnswer(false, counter.Spent, counter.Reserved, null);
                    }
                    var answer = new BudgetAnswer(true, counter.Spent, counter.Reserved, "memory");
                    counter.Reserved += worst;
                    return answer;
                }
                seeding = counter.Seeding ??= SeedAsync(counter, seed);
            }
            await seeding.WaitAsync(cancellationToken);
        }
    }

    private static async Task SeedAsync(Counter counter, Func<CancellationToken, Task<long>> seed)
    {
        await Task.Yield();
        long sum;
        try
        {
            sum = await seed(CancellationToken.None);
        }
        catch
        {
            lock (counter)
            {
                counter.Seeding = null; // the next request tries again
            }
            throw;
        }
        lock (counter)
        {
            counter.Spent += sum;
            counter.Seeded = true;
        }
    }

    public Task SettleAsync(BudgetCounterId id, string reservation, long worst, long actual)
    {
        if (_counters.TryGetValue(id, out var counter))
        {
            lock (counter)
            {
                counter.Reserved -= worst;
                counter.Spent += actual;
            }
        }
        return Task.CompletedTask;
    }

    private void Sweep()
    {
        long now = time.GetTimestamp();
        long last = Volatile.Read(ref _lastSweep);
        if (time.GetElapsedTime(last, now) < TimeSpan.FromMinutes(5) || Interlocked.CompareExchange(ref _lastSweep, now, last) != last)
        {
            return;
        }
        foreach (var (id, counter) in _counters)
        {
            lock (counter)
            {
                if (counter.Reserved == 0 && counter.Seeded && time.GetElapsedTime(counter.LastUsed, now) > IdleFor)
                {
                    counter.Dropped = true;
                    _counters.TryRemove(id, out _);
                }
            }
        }
    }
}
