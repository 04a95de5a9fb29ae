using Microsoft.Extensions.Time.Testing;
using Sluice.Gateway.Tenancy;
using Sluice.Gateway.Tenancy.Keys;
using Sluice.Gateway.Tenancy.Storage;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Keys;

/// <summary>The key store's behaviour, run on each store (<see cref="SqliteKeyStoreTests"/>, <see cref="PostgresKeyStoreTests"/>).</summary>
public abstract class KeyStoreTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));

    protected abstract Task<TenancyDatabase> OpenAsync();

    private async Task<KeyStore> StoreAsync()
    {
        var store = new KeyStore(await OpenAsync(), _time);
        await store.MigrateAsync();
        return store;
    }

    private static VirtualKey Template => new()
    {
        Id = "",
        Alias = "search-app",
        Team = "team-search",
        Owner = "alice",
        Models = ["demo", "other"],
        RequestsPerMinute = 600,
        TokensPerMinute = 100_000,
        MaxParallelRequests = 8,
        MaxBudget = 12.5m,
        MaxBudgetTokens = 1_000_000,
        BudgetDuration = "30d",
        ExpiresAt = new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero),
        Metadata = new Dictionary<string, string> { ["cost_center"] = "42" },
    };

    private static readonly Dictionary<string, string> NoMetadata = [];

    /// <summary>A key as text with its lists spelled out: records compare lists by reference.</summary>
    private static string Canon(StoredKey stored) =>
        (stored with { Key = stored.Key with { Models = [], Metadata = NoMetadata } }).ToString() + string.Join(",", stored.Key.Models)
        + string.Join(",", stored.Key.Metadata.Select(kv => kv.Key + "=" + kv.Value));

    [SkippableFact]
    public async Task Create_ThenLookUpBySecret_GivesEveryFieldBack()
    {
        var store = await StoreAsync();
        var issued = await store.CreateAsync(Template);

        Assert.StartsWith("sk-", issued.Secret, StringComparison.Ordinal);
        Assert.Null(KeySecrets.Malformed(issued.Secret));
        Assert.StartsWith("key_", issued.Stored.Key.Id, StringComparison.Ordinal);
        var found = await store.FindByHashAsync(KeySecrets.Hash(issued.Secret));
        Assert.NotNull(found);
        Assert.False(found.Value.Previous);
        var key = found.Value.Stored.Key;
        Assert.Equal(issued.Stored.Key.Id, key.Id);
        Assert.Equal(["demo", "other"], key.Models);
        Assert.Equal(("search-app", "team-search", "alice"), (key.Alias, key.Team, key.Owner));
        Assert.Equal((600L, 100_000L, 8L), (key.RequestsPerMinute!.Value, key.TokensPerMinute!.Value, key.MaxParallelRequests!.Value));
        Assert.Equal(12.5m, key.MaxBudget);
        Assert.Equal(1_000_000L, key.MaxBudgetTokens);
        Assert.Equal("30d", key.BudgetDuration);
        Assert.Equal(Template.ExpiresAt, key.ExpiresAt);
        Assert.Equal(_time.GetUtcNow(), key.CreatedAt);
        Assert.Equal("42", key.Metadata["cost_center"]);
        Assert.Equal(Canon(issued.Stored), Canon(found.Value.Stored));
        Assert.Equal(KeyStatus.Valid, KeyStore.StatusOf(found, _time.GetUtcNow()));
    }

    [SkippableFact]
    public async Task List_TwoKeys_ListsBothAndNeverTheSecret()
    {
        var store = await StoreAsync();
        var a = await store.CreateAsync(Template);
        var b = await store.CreateAsync(Template with { Alias = "b", Models = [] });

        var all = await store.ListAsync();
        Assert.Equal(new[] { a.Stored.Key.Id, b.Stored.Key.Id }.Order(StringComparer.Ordinal), all.Select(k => k.Key.Id).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(all, k => k.ToString().Contains(a.Secret, StringComparison.Ordinal) || k.ToString().Contains(b.Secret, StringComparison.Ordinal));
        Assert.Empty(all.Single(k => k.Key.Id == b.Stored.Key.Id).Key.Models);
    }

    [SkippableFact]
    public async Task Update_ChangesTheFields_KeepsIdCreationAndSecret()
    {
        var store = await StoreAsync();
        var issued = await store.CreateAsync(Template);
        _time.Advance(TimeSpan.FromMinutes(1));

        var updated = await store.UpdateAsync(issued.Stored.Key.Id, k => k with { Id = "key_other", Models = ["demo"], RequestsPerMinute = null, MaxBudget = 0m });

        Assert.NotNull(updated);
        var found = await store.GetAsync(issued.Stored.Key.Id);
        Assert.Equal(Canon(updated), Canon(found!));
        Assert.Equal(issued.Stored.Key.CreatedAt, found!.Key.CreatedAt);
        Assert.Equal(["demo"], found.Key.Models);
        Assert.Null(found.Key.RequestsPerMinute);
        Assert.Equal(0m, found.Key.MaxBudget);
        Assert.Equal(KeyStatus.Valid, KeyStore.StatusOf(await store.FindByHashAsync(KeySecrets.Hash(issued.Secret)), _time.GetUtcNow()));
        Assert.Null(await store.UpdateAsync("key_missing", k => k));
    }

    [SkippableFact]
    public async Task Rotate_WithGrace_BothSecretsWorkUntilTheGraceEnds()
    {
        var store = await StoreAsync();
        var issued = await store.CreateAsync(Template);

        var rotated = await store.RotateAsync(issued.Stored.Key.Id, TimeSpan.FromMinutes(5));

        Assert.NotNull(rotated);
        Assert.NotEqual(issued.Secret, rotated.Secret);
        Assert.Equal(issued.Stored.Key.Id, rotated.Stored.Key.Id);
        var old = await store.FindByHashAsync(KeySecrets.Hash(issued.Secret));
        Assert.True(old!.Value.Previous);
        Assert.Equal(KeyStatus.Valid, KeyStore.StatusOf(old, _time.GetUtcNow()));
        Assert.Equal(KeyStatus.Valid, KeyStore.StatusOf(await store.FindByHashAsync(KeySecrets.Hash(rotated.Secret)), _time.GetUtcNow()));
        _time.Advance(TimeSpan.FromMinutes(5));
        old = await store.FindByHashAsync(KeySecrets.Hash(issued.Secret));
        Assert.Equal(KeyStatus.RotatedOut, KeyStore.StatusOf(old, _time.GetUtcNow()));
        Assert.Equal(KeyStatus.Valid, KeyStore.StatusOf(await store.FindByHashAsync(KeySecrets.Hash(rotated.Secret)), _time.GetUtcNow()));
    }

    [SkippableFact]
    public async Task Rotate_WithoutGrace_TheOldSecretStopsAtOnce()
    {
        var store = await StoreAsync();
        var issued = await store.CreateAsync(Template);

        var rotated = await store.RotateAsync(issued.Stored.Key.Id, TimeSpan.Zero);

        Assert.Equal(KeyStatus.Unknown, KeyStore.StatusOf(await store.FindByHashAsync(KeySecrets.Hash(issued.Secret)), _time.GetUtcNow()));
        Assert.Equal(KeyStatus.Valid, KeyStore.StatusOf(await store.FindByHashAsync(KeySecrets.Hash(rotated!.Secret)), _time.GetUtcNow()));
    }

    [SkippableFact]
    public async Task RevokeAndDelete_TheSecretAnswersRevokedThenUnknown()
    {
        var store = await StoreAsync();
        var issued = await store.CreateAsync(Template);
        string hash = KeySecrets.Hash(issued.Secret);

        var revoked = await store.RevokeAsync(issued.Stored.Key.Id);
        Assert.Equal(_time.GetUtcNow(), revoked!.RevokedAt);
        Assert.Equal(KeyStatus.Revoked, KeyStore.StatusOf(await store.FindByHashAsync(hash), _time.GetUtcNow()));
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.RotateAsync(issued.Stored.Key.Id, TimeSpan.Zero));

        Assert.True(await store.DeleteAsync(issued.Stored.Key.Id));
        Assert.False(await store.DeleteAsync(issued.Stored.Key.Id));
        Assert.Equal(KeyStatus.Unknown, KeyStore.StatusOf(await store.FindByHashAsync(hash), _time.GetUtcNow()));
        Assert.Null(await store.GetAsync(issued.Stored.Key.Id));
    }

    [SkippableFact]
    public async Task BlockThenUnblock_TheSecretAnswersBlockedThenValid_AndTheStateIsStored()
    {
        var store = await StoreAsync();
        var issued = await store.CreateAsync(Template);
        string id = issued.Stored.Key.Id, hash = KeySecrets.Hash(issued.Secret);

        var blocked = await store.BlockAsync(id, blocked: true);
        Assert.Equal(_time.GetUtcNow(), blocked!.BlockedAt);
        Assert.Equal(KeyStatus.Blocked, KeyStore.StatusOf(await store.FindByHashAsync(hash), _time.GetUtcNow()));
        Assert.Equal(_time.GetUtcNow(), (await store.GetAsync(id))!.BlockedAt);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(blocked.BlockedAt, (await store.BlockAsync(id, blocked: true))!.BlockedAt); // blocking again keeps the first time

        var unblocked = await store.BlockAsync(id, blocked: false);
        Assert.Null(unblocked!.BlockedAt);
        Assert.Null((await store.GetAsync(id))!.BlockedAt);
        Assert.Equal(KeyStatus.Valid, KeyStore.StatusOf(await store.FindByHashAsync(hash), _time.GetUtcNow()));
        Assert.Null(await store.BlockAsync("key_0000000000000000", blocked: true));
    }

    [SkippableFact]
    public async Task Migrate_AStoreAtTheFirstKeysSchema_AddsBlockingAndKeepsItsKeys()
    {
        var database = await OpenAsync();
        await database.MigrateAsync(KeyStore.Component, [KeyStore.Migrations[0]]);
        await using (var connection = await database.OpenConnectionAsync())
        {
            await TenancyDatabase.ExecuteAsync(connection, null,
                "INSERT INTO sluice_keys (id, secret_hash, models, created_at, updated_at, metadata) VALUES ('key_old', 'h1', '[]', 0, 0, '{}')", default);
        }

        var store = new KeyStore(database, _time);
        await store.MigrateAsync();

        Assert.Null((await store.GetAsync("key_old"))!.BlockedAt);
        Assert.NotNull(await store.BlockAsync("key_old", blocked: true));
        Assert.Equal(KeyStatus.Blocked, KeyStore.StatusOf(await store.FindByHashAsync("h1"), _time.GetUtcNow()));
    }

    [SkippableFact]
    public async Task Expiry_PassedExpiresAt_AnswersExpired()
    {
        var store = await StoreAsync();
        var issued = await store.CreateAsync(Template with { ExpiresAt = _time.GetUtcNow().AddSeconds(10) });

        Assert.Equal(KeyStatus.Valid, KeyStore.StatusOf(await store.FindByHashAsync(KeySecrets.Hash(issued.Secret)), _time.GetUtcNow()));
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(KeyStatus.Expired, KeyStore.StatusOf(await store.FindByHashAsync(KeySecrets.Hash(issued.Secret)), _time.GetUtcNow()));
    }

    [SkippableFact]
    public async Task Version_EveryWrite_MovesTheChangeCounter()
    {
        var store = await StoreAsync();
        long start = await store.VersionAsync();
        var issued = await store.CreateAsync(Template);
        await store.UpdateAsync(issued.Stored.Key.Id, k => k with { Alias = "x" });
        await store.RotateAsync(issued.Stored.Key.Id, TimeSpan.Zero);
        await store.RevokeAsync(issued.Stored.Key.Id);
        await store.DeleteAsync(issued.Stored.Key.Id);

        Assert.Equal(start + 5, await store.VersionAsync());
        await store.MigrateAsync(); // a second start applies nothing again
        Assert.Equal(start + 5, await store.VersionAsync());
    }
}

public sealed class SqliteKeyStoreTests : KeyStoreTests, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sluice-keys-").FullName;

    protected override Task<TenancyDatabase> OpenAsync() => Task.FromResult(TenancyDatabase.Open(Path.Combine(_folder, "gateway.db")));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}

[Collection(TenancyCollection.Name)]
public sealed class PostgresKeyStoreTests(TenancyServers servers) : KeyStoreTests
{
    protected override async Task<TenancyDatabase> OpenAsync() => TenancyDatabase.Open(await (await servers.PostgresAsync()).CreateDatabaseAsync());
}
