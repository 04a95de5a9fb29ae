using System.Data.Common;
using System.Globalization;
using System.Text.Json.Nodes;
using Sluice.Gateway.Tenancy.Storage;

namespace Sluice.Gateway.Tenancy.Keys;

/// <summary>A key as stored: the enforced record plus its state (revoked, and until when a rotated-out secret still works).</summary>
public sealed record StoredKey(VirtualKey Key, DateTimeOffset? RevokedAt, DateTimeOffset? PreviousSecretUntil, DateTimeOffset UpdatedAt)
{
    /// <summary>When the key was blocked (LiteLLM's /key/block): refused until unblocked; null: not blocked.</summary>
    public DateTimeOffset? BlockedAt { get; init; }
}

/// <summary>A key and its secret, the one time the secret is known: at creation and rotation.</summary>
public sealed record IssuedKey(StoredKey Stored, string Secret);

/// <summary>What a presented secret is.</summary>
public enum KeyStatus
{
    Valid,
    Unknown,
    Revoked,

    /// <summary>Blocked (/key/block): refused until /key/unblock; unlike a revocation, it can be undone.</summary>
    Blocked,
    Expired,

    /// <summary>The secret was rotated out and its grace period is over.</summary>
    RotatedOut,
}

/// <summary>
/// The virtual keys (component "keys" of the <see cref="TenancyDatabase"/>): one row per key with the SHA-256 of its
/// secret (and of the previous secret while a rotation's grace period runs), every <see cref="VirtualKey"/> field, and a
/// change counter that every write bumps in the same transaction, which replicas poll to drop cached keys.
/// </summary>
public sealed class KeyStore(TenancyDatabase database, TimeProvider time)
{
    public const string Component = "keys";

    private const string Columns = "id, alias, team, owner, models, rpm_limit, tpm_limit, max_parallel, max_budget, max_budget_tokens, budget_duration, " +
        "expires_at, created_at, metadata, revoked_at, previous_until, updated_at, secret_hash, previous_hash, blocked_at";

    /// <summary>Migrations of the "keys" component, in order; never edit one that shipped, add the next.</summary>
    public static readonly IReadOnlyList<string> Migrations =
    [
        """
        CREATE TABLE sluice_keys (
            id TEXT PRIMARY KEY,
            secret_hash TEXT NOT NULL UNIQUE,
            previous_hash TEXT NULL,
            previous_until BIGINT NULL,
            alias TEXT NULL,
            team TEXT NULL,
            owner TEXT NULL,
            models TEXT NOT NULL,
            rpm_limit BIGINT NULL,
            tpm_limit BIGINT NULL,
            max_parallel BIGINT NULL,
            max_budget TEXT NULL,
            max_budget_tokens BIGINT NULL,
            budget_duration TEXT NULL,
            expires_at BIGINT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            revoked_at BIGINT NULL,
            metadata TEXT NOT NULL
        );
        CREATE INDEX sluice_keys_previous_hash ON sluice_keys (previous_hash);
        CREATE TABLE sluice_keys_version (id BIGINT PRIMARY KEY, version BIGINT NOT NULL);
        INSERT INTO sluice_keys_version (id, version) VALUES (1, 0);
        """,
        "ALTER TABLE sluice_keys ADD COLUMN blocked_at BIGINT NULL;",
        // teams: a key's team column is its team_id, the link to sluice_teams (component "teams"); /team/info lists a team's keys by it
        "CREATE INDEX sluice_keys_team ON sluice_keys (team);",
    ];

    public TenancyDatabase Database => database;

    public Task MigrateAsync(CancellationToken cancellationToken = default) => database.MigrateAsync(Component, Migrations, cancellationToken);

    /// <summary>Creates a key from <paramref name="template"/> (its id and creation time are given here) with a new secret.</summary>
    public async Task<IssuedKey> CreateAsync(VirtualKey template, CancellationToken cancellationToken = default)
    {
        string secret = KeySecrets.NewSecret();
        var now = time.GetUtcNow();
        var key = template with { Id = KeySecrets.NewId(), CreatedAt = Trim(now), ExpiresAt = template.ExpiresAt is { } e ? Trim(e) : null };
        await WriteAsync(async (connection, transaction) =>
        {
            await TenancyDatabase.ExecuteAsync(connection, transaction,
                $"INSERT INTO sluice_keys ({Columns}) VALUES (@id, @alias, @team, @owner, @models, @rpm, @tpm, @parallel, @budget, @budgetTokens, @duration, " +
                "@expires, @created, @metadata, NULL, NULL, @updated, @hash, NULL, NULL)",
                cancellationToken, [.. Parameters(key), ("created", Ms(now)), ("updated", Ms(now)), ("hash", KeySecrets.Hash(secret))]);
        }, cancellationToken);
        return new IssuedKey(new StoredKey(key, null, null, Trim(now)), secret);
    }

    public async Task<IReadOnlyList<StoredKey>> ListAsync(CancellationToken cancellationToken = default)
    {
        var keys = new List<StoredKey>();
        await ReadAsync(async connection =>
        {
            await using var command = TenancyDatabase.Command(connection, null, $"SELECT {Columns} FROM sluice_keys ORDER BY created_at, id");
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                keys.Add(Read(reader).Stored);
            }
        }, cancellationToken);
        return keys;
    }

    public async Task<StoredKey?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        StoredKey? found = null;
        await ReadAsync(async connection =>
        {
            await using var command = TenancyDatabase.Command(connection, null, $"SELECT {Columns} FROM sluice_keys WHERE id = @id", ("id", id));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                found = Read(reader).Stored;
            }
        }, cancellationToken);
        return found;
    }

    /// <summary>The key whose current (or rotated-out) secret hashes to <paramref name="hash"/>, and whether it was the previous one; null: none.</summary>
    public async Task<(StoredKey Stored, bool Previous)?> FindByHashAsync(string hash, CancellationToken cancellationToken = default)
    {
        (StoredKey, bool)? found = null;
        await ReadAsync(async connection =>
        {
            await using var command = TenancyDatabase.Command(connection, null,
                $"SELECT {Columns} FROM sluice_keys WHERE secret_hash = @hash OR previous_hash = @hash", ("hash", hash));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var (stored, current, previous) = Read(reader);
                // the index found the row; the comparison that decides is in constant time
                if (KeySecrets.SameHash(current, hash))
                {
                    found = (stored, false);
                }
                else if (previous is not null && KeySecrets.SameHash(previous, hash))
                {
                    found ??= (stored, true);
                }
            }
        }, cancellationToken);
        return found;
    }

    /// <summary>What <paramref name="found"/> (from <see cref="FindByHashAsync"/>) means at <paramref name="now"/>.</summary>
    public static KeyStatus StatusOf((StoredKey Stored, bool Previous)? found, DateTimeOffset now) => found switch
    {
        null => KeyStatus.Unknown,
        var (stored, _) when stored.RevokedAt is not null => KeyStatus.Revoked,
        var (stored, _) when stored.BlockedAt is not null => KeyStatus.Blocked,
        var (stored, _) when stored.Key.ExpiresAt is { } expires && expires <= now => KeyStatus.Expired,
        var (stored, previous) when previous && !(stored.PreviousSecretUntil > now) => KeyStatus.RotatedOut,
        _ => KeyStatus.Valid,
    };

    /// <summary>Applies <paramref name="change"/> to the key (its id and creation time stay); null when there is no such key.</summary>
    public async Task<StoredKey?> UpdateAsync(string id, Func<VirtualKey, VirtualKey> change, CancellationToken cancellationToken = default)
    {
        StoredKey? updated = null;
        await WriteAsync(async (connection, transaction) =>
        {
            if (await ReadOneAsync(connection, transaction, id, cancellationToken) is not { } stored)
            {
                return;
            }
            var changed = change(stored.Key);
            var key = changed with { Id = stored.Key.Id, CreatedAt = stored.Key.CreatedAt, ExpiresAt = changed.ExpiresAt is { } e ? Trim(e) : null };
            var now = time.GetUtcNow();
            await TenancyDatabase.ExecuteAsync(connection, transaction,
                "UPDATE sluice_keys SET alias = @alias, team = @team, owner = @owner, models = @models, rpm_limit = @rpm, tpm_limit = @tpm, " +
                "max_parallel = @parallel, max_budget = @budget, max_budget_tokens = @budgetTokens, budget_duration = @duration, expires_at = @expires, " +
                "metadata = @metadata, updated_at = @updated WHERE id = @id",
                cancellationToken, [.. Parameters(key), ("updated", Ms(now))]);
            updated = stored with { Key = key, UpdatedAt = Trim(now) };
        }, cancellationToken);
        return updated;
    }

    /// <summary>
    /// Gives the key a new secret; the current one keeps working for <paramref name="grace"/> (zero: stops at once). A
    /// secret rotated out earlier stops now. Null when there is no such key; a revoked key cannot be rotated.
    /// </summary>
    public async Task<IssuedKey?> RotateAsync(string id, TimeSpan grace, CancellationToken cancellationToken = default)
    {
        string secret = KeySecrets.NewSecret();
        IssuedKey? issued = null;
        await WriteAsync(async (connection, transaction) =>
        {
            if (await ReadOneAsync(connection, transaction, id, cancellationToken) is not { } stored)
            {
                return;
            }
            if (stored.RevokedAt is not null)
            {
                throw new InvalidOperationException($"key {id} is revoked: create a new key");
            }
            var now = time.GetUtcNow();
            DateTimeOffset? until = grace > TimeSpan.Zero ? now + grace : null;
            await TenancyDatabase.ExecuteAsync(connection, transaction,
                "UPDATE sluice_keys SET previous_hash = " + (until is null ? "NULL" : "secret_hash") +
                ", previous_until = @until, secret_hash = @hash, updated_at = @updated WHERE id = @id", cancellationToken,
                ("until", until is { } u ? Ms(u) : null), ("hash", KeySecrets.Hash(secret)), ("updated", Ms(now)), ("id", id));
            issued = new IssuedKey(stored with { PreviousSecretUntil = until is { } t ? Trim(t) : null, UpdatedAt = Trim(now) }, secret);
        }, cancellationToken);
        return issued;
    }

    /// <summary>Revokes the key (its secrets stop working; it stays listed as revoked). Null when there is no such key.</summary>
    public async Task<StoredKey?> RevokeAsync(string id, CancellationToken cancellationToken = default)
    {
        StoredKey? revoked = null;
        await WriteAsync(async (connection, transaction) =>
        {
            if (await ReadOneAsync(connection, transaction, id, cancellationToken) is not { } stored)
            {
                return;
            }
            var now = time.GetUtcNow();
            var at = stored.RevokedAt ?? Trim(now);
            await TenancyDatabase.ExecuteAsync(connection, transaction, "UPDATE sluice_keys SET revoked_at = @at, updated_at = @updated WHERE id = @id",
                cancellationToken, ("at", Ms(at)), ("updated", Ms(now)), ("id", id));
            revoked = stored with { RevokedAt = at, UpdatedAt = Trim(now) };
        }, cancellationToken);
        return revoked;
    }

    /// <summary>
    /// Blocks the key (<paramref name="blocked"/> true: its secrets are refused, as "blocked", until it is unblocked) or
    /// unblocks it. Blocking a blocked key keeps its first time. Null when there is no such key.
    /// </summary>
    public async Task<StoredKey?> BlockAsync(string id, bool blocked, CancellationToken cancellationToken = default)
    {
        StoredKey? changed = null;
        await WriteAsync(async (connection, transaction) =>
        {
            if (await ReadOneAsync(connection, transaction, id, cancellationToken) is not { } stored)
            {
                return;
            }
            var now = time.GetUtcNow();
            DateTimeOffset? at = blocked ? stored.BlockedAt ?? Trim(now) : null;
            await TenancyDatabase.ExecuteAsync(connection, transaction, "UPDATE sluice_keys SET blocked_at = @at, updated_at = @updated WHERE id = @id",
                cancellationToken, ("at", at is { } a ? Ms(a) : null), ("updated", Ms(now)), ("id", id));
            changed = stored with { BlockedAt = at, UpdatedAt = Trim(now) };
        }, cancellationToken);
        return changed;
    }

    /// <summary>Deletes the key; false when there was none. Its secrets then answer as unknown.</summary>
    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        int rows = 0;
        await WriteAsync(async (connection, transaction) =>
            rows = await TenancyDatabase.ExecuteAsync(connection, transaction, "DELETE FROM sluice_keys WHERE id = @id", cancellationToken, ("id", id)),
            cancellationToken);
        return rows > 0;
    }

    /// <summary>The change counter: bumped by every write; a replica that sees it move drops its cached keys.</summary>
    public async Task<long> VersionAsync(CancellationToken cancellationToken = default)
    {
        long version = 0;
        await ReadAsync(async connection =>
            version = await TenancyDatabase.ScalarAsync(connection, null, "SELECT version FROM sluice_keys_version WHERE id = 1", cancellationToken),
            cancellationToken);
        return version;
    }

    private Task WriteAsync(Func<DbConnection, DbTransaction, Task> write, CancellationToken cancellationToken) =>
        database.WriteKeysAsync("keys", write, cancellationToken);

    private Task ReadAsync(Func<DbConnection, Task> read, CancellationToken cancellationToken) =>
        database.ReadAsync("keys", read, cancellationToken);

    private static async Task<StoredKey?> ReadOneAsync(DbConnection connection, DbTransaction transaction, string id, CancellationToken cancellationToken)
    {
        await using var command = TenancyDatabase.Command(connection, transaction, $"SELECT {Columns} FROM sluice_keys WHERE id = @id", ("id", id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader).Stored : null;
    }

    private static (string, object?)[] Parameters(VirtualKey key) =>
    [
        ("id", key.Id), ("alias", key.Alias), ("team", key.Team), ("owner", key.Owner),
        ("models", new JsonArray([.. key.Models.Select(m => (JsonNode?)JsonValue.Create(m))]).ToJsonString()),
        ("rpm", key.RequestsPerMinute), ("tpm", key.TokensPerMinute), ("parallel", key.MaxParallelRequests),
        ("budget", key.MaxBudget?.ToString(CultureInfo.InvariantCulture)), ("budgetTokens", key.MaxBudgetTokens), ("duration", key.BudgetDuration),
        ("expires", key.ExpiresAt is { } e ? Ms(e) : null),
        ("metadata", new JsonObject(key.Metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))).ToJsonString()),
    ];

    private static (StoredKey Stored, string Hash, string? PreviousHash) Read(DbDataReader r)
    {
        string? Text(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        long? Long(int i) => r.IsDBNull(i) ? null : Convert.ToInt64(r.GetValue(i), CultureInfo.InvariantCulture);
        DateTimeOffset? Time(int i) => Long(i) is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
        var models = JsonNode.Parse(r.GetString(4))!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        var metadata = JsonNode.Parse(r.GetString(13))!.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<string>(), StringComparer.Ordinal);
        var key = new VirtualKey
        {
            Id = r.GetString(0),
            Alias = Text(1),
            Team = Text(2),
            Owner = Text(3),
            Models = models,
            RequestsPerMinute = Long(5),
            TokensPerMinute = Long(6),
            MaxParallelRequests = Long(7),
            MaxBudget = Text(8) is { } budget ? decimal.Parse(budget, CultureInfo.InvariantCulture) : null,
            MaxBudgetTokens = Long(9),
            BudgetDuration = Text(10),
            ExpiresAt = Time(11),
            CreatedAt = Time(12)!.Value,
            Metadata = metadata,
        };
        return (new StoredKey(key, Time(14), Time(15), Time(16)!.Value) { BlockedAt = Time(19) }, r.GetString(17), Text(18));
    }

    private static long Ms(DateTimeOffset at) => at.ToUnixTimeMilliseconds();

    /// <summary>Times are stored in milliseconds: what is returned at once must equal what a later read gives.</summary>
    private static DateTimeOffset Trim(DateTimeOffset at) => DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds());
}
