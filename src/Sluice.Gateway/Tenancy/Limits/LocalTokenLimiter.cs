using System.Collections.Concurrent;

namespace Sluice.Gateway.Tenancy.Limits;

/// <summary>The tokens-per-minute limit in this process (no Redis): exact for one gateway; several replicas would each allow the limit.</summary>
public sealed class LocalTokenLimiter(TimeProvider time) : ITokenLimiter
{
    private readonly ConcurrentDictionary<string, Window> _keys = new(StringComparer.Ordinal);

    public ValueTask<ITokenReservation?> ReserveAsync(VirtualKey key, long tokens, long promptTokens, CancellationToken cancellationToken)
    {
        if (key.TokensPerMinute is not { } limit)
        {
            return ValueTask.FromResult<ITokenReservation?>(null);
        }
        if (tokens > limit)
        {
            throw LimitErrors.NeverFits(key, tokens, promptTokens);
        }
        var window = _keys.GetOrAdd(key.Id, _ => new Window());
        lock (window)
        {
            long now = time.GetTimestamp();
            window.Expire(time, now);
            if (window.Total + tokens > limit)
            {
                throw LimitErrors.Tpm(key, tokens, window.Total, window.WaitFor(time, now, window.Total + tokens - limit));
            }
            var entry = new Entry(now, tokens);
            window.Entries.Enqueue(entry);
            window.Total += tokens;
            return ValueTask.FromResult<ITokenReservation?>(new Reservation(window, entry));
        }
    }

    /// <summary>One admitted request: when, and its tokens (the worst case until settled).</summary>
    private sealed class Entry(long at, long tokens)
    {
        public long At { get; } = at;
        public long Tokens { get; set; } = tokens;
        public bool Left { get; set; }
        public bool Settled { get; set; }
    }

    /// <summary>A key's entries of the last minute, oldest first, and their sum.</summary>
    private sealed class Window
    {
        public readonly Queue<Entry> Entries = new();
        public long Total;

        public void Expire(TimeProvider time, long now)
        {
            while (Entries.TryPeek(out var oldest) && time.GetElapsedTime(oldest.At, now) >= LimitErrors.Window)
            {
                Entries.Dequeue();
                oldest.Left = true;
                Total -= oldest.Tokens;
            }
        }

        /// <summary>How long until <paramref name="excess"/> tokens have left the window (entries leave oldest first).</summary>
        public TimeSpan WaitFor(TimeProvider time, long now, long excess)
        {
            long freed = 0;
            foreach (var entry in Entries)
            {
                freed += entry.Tokens;
                if (freed >= excess)
                {
                    return LimitErrors.Window - time.GetElapsedTime(entry.At, now);
                }
            }
            return LimitErrors.Window;
        }
    }

    private sealed class Reservation(Window window, Entry entry) : ITokenReservation
    {
        public ValueTask SettleAsync(long used)
        {
            used = Math.Max(0, used);
            lock (window)
            {
                if (!entry.Settled)
                {
                    entry.Settled = true;
                    if (!entry.Left)
                    {
                        window.Total += used - entry.Tokens;
                        entry.Tokens = used;
                    }
                }
            }
            return ValueTask.CompletedTask;
        }
    }
}
