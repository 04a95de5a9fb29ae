using System.Collections.Concurrent;
using Sluice.Gateway.Tenancy.Storage;

namespace Sluice.Gateway.Tenancy.Keys;

/// <summary>
/// Presented secrets resolved to keys, cached in process by the secret's hash (unknown secrets too, so a flood of bad
/// keys does not reach the database). <see cref="KeyChangeListener"/> clears it when any key changes (a Redis message,
/// or the change counter it polls); an entry is trusted only while that poll has succeeded within the last second, so
/// a revocation is seen within a second on every replica. Under fail_mode open, entries outlive a database outage.
/// </summary>
public sealed class KeyCache(KeyStore store, TenancyFailures failures, TimeProvider time)
{
    /// <summary>Entries past this many are dropped all at once: random secrets cannot grow the cache without bound.</summary>
    private const int MaxEntries = 100_000;

    /// <summary>How long a successful poll vouches for the cache.</summary>
    public static readonly TimeSpan TrustFor = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, (StoredKey Stored, bool Previous)?> _entries = new(StringComparer.Ordinal);
    private long _generation;
    private long _confirmedAt = long.MinValue;

    public KeyStore Store => store;

    /// <summary>The key <paramref name="secret"/> belongs to and what it is now; throws the fail mode's 503 when the store cannot answer.</summary>
    public async ValueTask<(KeyStatus Status, StoredKey? Stored)> ResolveAsync(string secret, CancellationToken cancellationToken)
    {
        string hash = KeySecrets.Hash(secret);
        long seen = Volatile.Read(ref _confirmedAt);
        bool trusted = seen != long.MinValue && time.GetElapsedTime(seen) < TrustFor;
        bool cached = _entries.TryGetValue(hash, out var entry);
        if (cached && trusted)
        {
            return Result(entry);
        }
        long generation = Volatile.Read(ref _generation);
        (StoredKey, bool)? found;
        try
        {
            found = await store.FindByHashAsync(hash, cancellationToken);
        }
        catch (TenancyStoreException e)
        {
            if (failures.Failed("database", $"key store ({store.Database.Description})", e.InnerException?.Message ?? e.Message) is { } refuse)
            {
                throw refuse;
            }
            if (cached)
            {
                return Result(entry); // fail open: the key as last seen
            }
            throw new Hosting.Errors.ApiException(503, $"The gateway cannot reach its key store ({store.Database.Description}) and has not seen this key before, so it cannot check it.",
                "server_error", "key_store_unavailable", Hosting.Errors.AdmissionRejection.NotReady)
            { RetryAfterSeconds = 1 };
        }
        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }
        // a change that cleared the cache while this lookup ran may have made its answer stale: keep it out
        if (Volatile.Read(ref _generation) == generation)
        {
            _entries[hash] = found;
        }
        return Result(found);
    }

    private (KeyStatus, StoredKey?) Result((StoredKey Stored, bool Previous)? found) => (KeyStore.StatusOf(found, time.GetUtcNow()), found?.Stored);

    /// <summary>Drops every entry: some key changed.</summary>
    public void Clear()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
        Cleared?.Invoke();
    }

    /// <summary>Raised by <see cref="Clear"/>: the teams' cache follows the keys' (one change counter for both).</summary>
    public event Action? Cleared;

    /// <summary>Whether the change poll succeeded within the last <see cref="TrustFor"/>: cached entries may be used.</summary>
    public bool Trusted => Volatile.Read(ref _confirmedAt) is var seen && seen != long.MinValue && time.GetElapsedTime(seen) < TrustFor;

    /// <summary>The store answered the change poll: the cache is current as of now.</summary>
    public void Confirm() => Volatile.Write(ref _confirmedAt, time.GetTimestamp());
}
