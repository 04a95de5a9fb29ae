using System.Collections.Concurrent;
using Sluice.Gateway.Tenancy.Keys;
using Sluice.Gateway.Tenancy.Storage;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tenancy.Teams;

/// <summary>
/// Teams by id, cached in process (a missing team too) and dropped whenever the <see cref="KeyCache"/> is: team writes
/// move the same change counter and are announced on the same Redis channel, so a team change (a block, a new budget)
/// is seen on every replica within a second, as a key change is. Entries are trusted while the key cache is.
/// </summary>
public sealed class TeamCache
{
    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, Team?> _entries = new(StringComparer.Ordinal);
    private readonly TeamStore _store;
    private readonly KeyCache _keys;
    private readonly TenancyFailures _failures;
    private long _generation;

    public TeamCache(TeamStore store, KeyCache keys, TenancyFailures failures)
    {
        _store = store;
        _keys = keys;
        _failures = failures;
        keys.Cleared += Clear;
    }

    /// <summary>
    /// The team <paramref name="key"/> belongs to; null when its team_id names no team (or it has none). The store
    /// unreachable: fail_mode closed throws the 503; open uses the team as last seen (none if never seen).
    /// </summary>
    public async ValueTask<Team?> ResolveAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(key.Team))
        {
            return null;
        }
        bool cached = _entries.TryGetValue(key.Team, out var team);
        if (cached && _keys.Trusted)
        {
            return team;
        }
        long generation = Volatile.Read(ref _generation);
        Team? found;
        try
        {
            found = await _store.GetAsync(key.Team, cancellationToken);
        }
        catch (TenancyStoreException e)
        {
            if (_failures.Failed("database", $"team store ({_store.Database.Description})", e.InnerException?.Message ?? e.Message) is { } refuse)
            {
                throw refuse;
            }
            return cached ? team : null; // fail open: as last seen
        }
        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }
        if (Volatile.Read(ref _generation) == generation)
        {
            _entries[key.Team] = found;
        }
        return found;
    }

    private void Clear()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }

    /// <summary>401 for a key whose team is blocked.</summary>
    public static ApiException Blocked(VirtualKey key, Team team) =>
        ApiException.Unauthorized($"This API key ({key.Id}) belongs to team {team.Id}, which is blocked (since {team.BlockedAt:u}); an admin can unblock it (POST /team/unblock).");
}
