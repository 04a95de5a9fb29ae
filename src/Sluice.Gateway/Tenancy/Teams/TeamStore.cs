using System.Data.Common;
using System.Globalization;
using System.Text.Json.Nodes;
using Sluice.Gateway.Tenancy.Storage;

namespace Sluice.Gateway.Tenancy.Teams;

/// <summary>
/// The teams (component "teams" of the <see cref="TenancyDatabase"/>): one row per team. A write bumps the keys' change
/// counter in the same transaction, so every replica drops its cached keys and teams as it does for a key change (within
/// a second). Keys link to a team by their <c>team</c> column (LiteLLM's <c>team_id</c>).
/// </summary>
public sealed class TeamStore(TenancyDatabase database, TimeProvider time)
{
    public const string Component = "teams";

    private const string Columns = "team_id, alias, models, rpm_limit, tpm_limit, max_parallel, max_budget, budget_duration, metadata, created_at, updated_at, blocked_at";

    /// <summary>Migrations of the "teams" component, in order; never edit one that shipped, add the next.</summary>
    public static readonly IReadOnlyList<string> Migrations =
    [
        """
        CREATE TABLE sluice_teams (
            team_id TEXT PRIMARY KEY,
            alias TEXT NULL,
            models TEXT NOT NULL,
            rpm_limit BIGINT NULL,
            tpm_limit BIGINT NULL,
            max_parallel BIGINT NULL,
            max_budget TEXT NULL,
            budget_duration TEXT NULL,
            metadata TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            blocked_at BIGINT NULL
        )
        """,
    ];

    public TenancyDatabase Database => database;

    public Task MigrateAsync(CancellationToken cancellationToken = default) => database.MigrateAsync(Component, Migrations, cancellationToken);

    /// <summary>Creates <paramref name="team"/> (its times are set here); null when a team with its id exists.</summary>
    public async Task<Team?> CreateAsync(Team team, CancellationToken cancellationToken = default)
    {
        var now = Trim(time.GetUtcNow());
        var created = team with { CreatedAt = now, UpdatedAt = now };
        bool exists = false;
        await WriteAsync(async (connection, transaction) =>
        {
            if (await ReadOneAsync(connection, transaction, team.Id, cancellationToken) is not null)
            {
                exists = true;
                return;
            }
            await TenancyDatabase.ExecuteAsync(connection, transaction,
                $"INSERT INTO sluice_teams ({Columns}) VALUES (@id, @alias, @models, @rpm, @tpm, @parallel, @budget, @duration, @metadata, @created, @updated, @blocked)",
                cancellationToken, Parameters(created));
        }, cancellationToken);
        return exists ? null : created;
    }

    public async Task<IReadOnlyList<Team>> ListAsync(CancellationToken cancellationToken = default)
    {
        var teams = new List<Team>();
        await ReadAsync(async connection =>
        {
            await using var command = TenancyDatabase.Command(connection, null, $"SELECT {Columns} FROM sluice_teams ORDER BY created_at, team_id");
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                teams.Add(Read(reader));
            }
        }, cancellationToken);
        return teams;
    }

    public async Task<Team?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        Team? found = null;
        await ReadAsync(async connection => found = await ReadOneAsync(connection, null, id, cancellationToken), cancellationToken);
        return found;
    }

    /// <summary>Applies <paramref name="change"/> (its id and creation time stay); null when there is no such team.</summary>
    public async Task<Team?> UpdateAsync(string id, Func<Team, Team> change, CancellationToken cancellationToken = default)
    {
        Team? updated = null;
        await WriteAsync(async (connection, transaction) =>
        {
            if (await ReadOneAsync(connection, transaction, id, cancellationToken) is not { } stored)
            {
                return;
            }
            var team = change(stored) with { Id = stored.Id, CreatedAt = stored.CreatedAt, UpdatedAt = Trim(time.GetUtcNow()) };
            await TenancyDatabase.ExecuteAsync(connection, transaction,
                "UPDATE sluice_teams SET alias = @alias, models = @models, rpm_limit = @rpm, tpm_limit = @tpm, max_parallel = @parallel, max_budget = @budget, " +
                "budget_duration = @duration, metadata = @metadata, updated_at = @updated, blocked_at = @blocked WHERE team_id = @id",
                cancellationToken, Parameters(team));
            updated = team;
        }, cancellationToken);
        return updated;
    }

    /// <summary>Blocks (keeping the first time) or unblocks the team; null when there is no such team.</summary>
    public Task<Team?> BlockAsync(string id, bool blocked, CancellationToken cancellationToken = default) =>
        UpdateAsync(id, team => team with { BlockedAt = blocked ? team.BlockedAt ?? Trim(time.GetUtcNow()) : null }, cancellationToken);

    /// <summary>Deletes the team; false when there was none.</summary>
    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        int rows = 0;
        await WriteAsync(async (connection, transaction) =>
            rows = await TenancyDatabase.ExecuteAsync(connection, transaction, "DELETE FROM sluice_teams WHERE team_id = @id", cancellationToken, ("id", id)),
            cancellationToken);
        return rows > 0;
    }

    /// <summary>The ids of the keys whose team_id is <paramref name="id"/>, oldest first.</summary>
    public async Task<IReadOnlyList<string>> KeyIdsAsync(string id, CancellationToken cancellationToken = default)
    {
        var keys = new List<string>();
        await ReadAsync(async connection =>
        {
            await using var command = TenancyDatabase.Command(connection, null, "SELECT id FROM sluice_keys WHERE team = @team ORDER BY created_at, id", ("team", id));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                keys.Add(reader.GetString(0));
            }
        }, cancellationToken);
        return keys;
    }

    /// <summary>The team's spend (pico-units) and tokens in the spend log since <paramref name="from"/>: every key of the team, whichever gateway wrote it.</summary>
    public static async Task<(long SpendPico, long Tokens)> TotalsAsync(TenancyDatabase database, string teamId, DateTimeOffset from, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = TenancyDatabase.Command(connection, null,
            "SELECT COALESCE(SUM(spend_pico), 0), COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM spend_log WHERE team_id = @team AND start_ms >= @from",
            ("team", teamId), ("from", from.ToUnixTimeMilliseconds()));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return (0, 0);
        }
        return (Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture));
    }

    private Task WriteAsync(Func<DbConnection, DbTransaction, Task> write, CancellationToken cancellationToken) =>
        database.WriteKeysAsync("teams", write, cancellationToken);

    private Task ReadAsync(Func<DbConnection, Task> read, CancellationToken cancellationToken) =>
        database.ReadAsync("teams", read, cancellationToken);

    private static async Task<Team?> ReadOneAsync(DbConnection connection, DbTransaction? transaction, string id, CancellationToken cancellationToken)
    {
        await using var command = TenancyDatabase.Command(connection, transaction, $"SELECT {Columns} FROM sluice_teams WHERE team_id = @id", ("id", id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static (string, object?)[] Parameters(Team team) =>
    [
        ("id", team.Id), ("alias", team.Alias),
        ("models", new JsonArray([.. team.Models.Select(m => (JsonNode?)JsonValue.Create(m))]).ToJsonString()),
        ("rpm", team.RequestsPerMinute), ("tpm", team.TokensPerMinute), ("parallel", team.MaxParallelRequests),
        ("budget", team.MaxBudget?.ToString(CultureInfo.InvariantCulture)), ("duration", team.BudgetDuration),
        ("metadata", new JsonObject(team.Metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))).ToJsonString()),
        ("created", Ms(team.CreatedAt)), ("updated", Ms(team.UpdatedAt)), ("blocked", team.BlockedAt is { } b ? Ms(b) : null),
    ];

    private static Team Read(DbDataReader r)
    {
        string? Text(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        long? Long(int i) => r.IsDBNull(i) ? null : Convert.ToInt64(r.GetValue(i), CultureInfo.InvariantCulture);
        DateTimeOffset? Time(int i) => Long(i) is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
        return new Team
        {
            Id = r.GetString(0),
            Alias = Text(1),
            Models = JsonNode.Parse(r.GetString(2))!.AsArray().Select(n => n!.GetValue<string>()).ToList(),
            RequestsPerMinute = Long(3),
            TokensPerMinute = Long(4),
            MaxParallelRequests = Long(5),
            MaxBudget = Text(6) is { } budget ? decimal.Parse(budget, CultureInfo.InvariantCulture) : null,
            BudgetDuration = Text(7),
            Metadata = JsonNode.Parse(r.GetString(8))!.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<string>(), StringComparer.Ordinal),
            CreatedAt = Time(9)!.Value,
            UpdatedAt = Time(10)!.Value,
            BlockedAt = Time(11),
        };
    }

    private static long Ms(DateTimeOffset at) => at.ToUnixTimeMilliseconds();

    /// <summary>Times are stored in milliseconds: what is returned at once must equal what a later read gives.</summary>
    private static DateTimeOffset Trim(DateTimeOffset at) => DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds());
}
