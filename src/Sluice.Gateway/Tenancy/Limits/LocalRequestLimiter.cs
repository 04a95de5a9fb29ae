using System.Collections.Concurrent;

namespace Sluice.Gateway.Tenancy.Limits;

/// <summary>The limits in this process (no Redis): exact for one gateway; several replicas would each allow the limit.</summary>
public sealed class LocalRequestLimiter(TimeProvider time) : IRequestLimiter
{
    private readonly ConcurrentDictionary<string, KeyState> _keys = new(StringComparer.Ordinal);

    public ValueTask<IRequestLease> AcquireAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        var state = _keys.GetOrAdd(key.Id, _ => new KeyState());
        lock (state)
        {
            if (key.MaxParallelRequests is { } parallel && state.InFlight >= parallel)
            {
                throw LimitErrors.Parallel(key);
            }
            if (key.RequestsPerMinute is { } rpm)
            {
                long now = time.GetTimestamp();
                // the sliding window: admission times of the last minute, oldest first
                while (state.Admitted.TryPeek(out long oldest) && time.GetElapsedTime(oldest, now) >= LimitErrors.Window)
                {
                    state.Admitted.Dequeue();
                }
                if (state.Admitted.Count >= rpm)
                {
                    throw LimitErrors.Rpm(key, state.Admitted.TryPeek(out long first) ? LimitErrors.Window - time.GetElapsedTime(first, now) : LimitErrors.Window);
                }
                state.Admitted.Enqueue(now);
            }
            if (key.MaxParallelRequests is null)
            {
                return ValueTask.FromResult<IRequestLease>(NoLease.Instance);
            }
            state.InFlight++;
        }
        return ValueTask.FromResult<IRequestLease>(new Lease(state));
    }

    private sealed class KeyState
    {
        public readonly Queue<long> Admitted = new();
        public long InFlight;
    }

    private sealed class Lease(KeyState state) : IRequestLease
    {
        private int _done;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                lock (state)
                {
                    state.InFlight--;
                }
            }
            return ValueTask.CompletedTask;
        }
    }
}
