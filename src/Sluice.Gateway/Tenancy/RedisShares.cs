namespace Sluice.Gateway.Tenancy;

/// <summary>
/// How a gateway takes a share of a key's limit from Redis so most requests are admitted without a round trip. When a
/// limit has room, the script that admits a request grants this gateway more than the request needs: a share of at most
/// 1/<see cref="Divisor"/> of the room left, and at most <see cref="MostRequests"/> requests' worth. Later requests are
/// admitted from the share in this process while it is open (<see cref="OpenFor"/>); then it is closed and what it did
/// not use goes back. What a share holds counts in Redis as taken, so the fleet never admits more than the limit; near
/// the limit the room/<see cref="Divisor"/> falls below one request and every request asks Redis, as without shares.
/// </summary>
internal static class RedisShares
{
    /// <summary>A share is at most this fraction of the room the limit has left (several gateways can hold one each).</summary>
    public const int Divisor = 8;

    /// <summary>A share is at most this many requests' worth.</summary>
    public const int MostRequests = 64;

    /// <summary>How long a share admits requests; then what it did not use goes back to the limit.</summary>
    public static readonly TimeSpan OpenFor = TimeSpan.FromSeconds(1);

    /// <summary>How often open shares are checked for closing (an idle one gives back what it holds within OpenFor + this).</summary>
    public static readonly TimeSpan SweepEvery = TimeSpan.FromMilliseconds(250);

    /// <summary>A share opened at <paramref name="openedAt"/> (<see cref="Environment.TickCount64"/>) admits no more.</summary>
    public static bool Expired(long openedAt) => Environment.TickCount64 - openedAt >= (long)OpenFor.TotalMilliseconds;

    /// <summary>Half a share's time is gone: time to ask for the next.</summary>
    public static bool HalfGone(long openedAt) => (Environment.TickCount64 - openedAt) * 2 >= (long)OpenFor.TotalMilliseconds;
}

/// <summary>A share of a limit as <see cref="OpenShares{TShare}"/> keeps it: closed once its time is up or a newer one replaces it.</summary>
internal interface IRedisShare
{
    /// <summary>Open for <see cref="RedisShares.OpenFor"/> or longer: it admits no more.</summary>
    bool Expired { get; }

    /// <summary>Admits no more and gives back what it did not use; later calls do nothing.</summary>
    void Close();
}

/// <summary>
/// Per key (or budget counter), the share a gateway admits its next requests from: installed when granted (the one it
/// replaces closes), refilled in the background before it runs out (one grant at a time per key), and closed by the
/// sweep once its time is up, so an idle key's share gives back what it holds.
/// </summary>
internal sealed class OpenShares<TShare>
    where TShare : class, IRedisShare
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TShare> _open = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _refilling = new(StringComparer.Ordinal);

    public bool TryGet(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out TShare share) => _open.TryGetValue(key, out share);

    /// <summary>Makes <paramref name="share"/> the one the key's next requests take from; the one it replaces closes.</summary>
    public void Install(string key, TShare share)
    {
        TShare? replaced = null;
        _open.AddOrUpdate(key, share, (_, previous) =>
        {
            replaced = previous;
            return share;
        });
        replaced?.Close();
    }

    /// <summary>
    /// Closes <paramref name="share"/>, which could not admit a request (its time is up, or it has too little left), if it
    /// is still the key's open one, so that what it holds goes back before the caller asks Redis for room: its close is
    /// sent first on the same connection, so Redis sees the room back when the caller's script runs. Without this a
    /// request near a limit was refused for room its own gateway held in a share no request could use.
    /// </summary>
    public void Retire(string key, TShare share)
    {
        if (_open.TryRemove(new KeyValuePair<string, TShare>(key, share)))
        {
            share.Close();
        }
    }

    /// <summary>
    /// Asks for the key's next share in the background while the open one still admits: <paramref name="grant"/> returns
    /// it (null: refused or not granted), installed when <paramref name="shared"/> says it holds more than one request's
    /// worth, else closed at once (near the limit what was taken goes back). A Redis that cannot be reached is left to the
    /// next request that finds no room, which meets the fail mode.
    /// </summary>
    public void Refill(string key, Func<Task<TShare?>> grant, Func<TShare, bool> shared)
    {
        if (!_refilling.TryAdd(key, 0))
        {
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                if (await grant() is { } share)
                {
                    if (shared(share))
                    {
                        Install(key, share);
                    }
                    else
                    {
                        share.Close();
                    }
                }
            }
            catch (Exception e) when (TenancyRedis.IsUnreachable(e))
            {
                // the next request that finds no room asks Redis itself
            }
            finally
            {
                _refilling.TryRemove(key, out _);
            }
        });
    }

    /// <summary>Closes the shares whose time is up.</summary>
    public void Sweep()
    {
        foreach (var (key, share) in _open)
        {
            if (share.Expired && _open.TryRemove(new KeyValuePair<string, TShare>(key, share)))
            {
                share.Close();
            }
        }
    }

    /// <summary>Sweeps every <see cref="RedisShares.SweepEvery"/> until stopped.</summary>
    public async Task SweepAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RedisShares.SweepEvery);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            Sweep();
        }
    }
}
