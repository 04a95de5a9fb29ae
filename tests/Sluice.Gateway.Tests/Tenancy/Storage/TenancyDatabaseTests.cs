using Sluice.Gateway.Tenancy.Storage;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Storage;

/// <summary>The tenancy database on both stores: migrations apply once per component, in order, and bad stores are named.</summary>
public sealed class TenancyDatabaseTests
{
    private static readonly string[] Migrations =
    [
        "CREATE TABLE widgets (id TEXT PRIMARY KEY, n BIGINT NOT NULL)",
        "ALTER TABLE widgets ADD COLUMN label TEXT",
    ];

    private static async Task MigratesOnceAndKeepsData(TenancyDatabase database)
    {
        await database.MigrateAsync("widgets", Migrations);
        await using (var connection = await database.OpenConnectionAsync())
        {
            await TenancyDatabase.ExecuteAsync(connection, null, "INSERT INTO widgets (id, n, label) VALUES (@id, @n, @label)", default,
                ("id", "a"), ("n", 7L), ("label", "x"));
        }
        // a restart, or a second replica, migrates again: nothing is applied twice and the row stays
        await database.MigrateAsync("widgets", Migrations);
        await database.MigrateAsync("other", ["CREATE TABLE others (id TEXT PRIMARY KEY)"]);
        await using var check = await database.OpenConnectionAsync();
        Assert.Equal(7, await TenancyDatabase.ScalarAsync(check, null, "SELECT n FROM widgets WHERE id = @id", default, ("id", "a")));
        Assert.Equal(2, await TenancyDatabase.ScalarAsync(check, null, "SELECT MAX(version) FROM sluice_schema WHERE component = 'widgets'", default));
        Assert.Equal(1, await TenancyDatabase.ScalarAsync(check, null, "SELECT MAX(version) FROM sluice_schema WHERE component = 'other'", default));

        // an older Sluice (knowing one migration) refuses the newer schema rather than writing to it
        var error = await Assert.ThrowsAsync<TenancyStoreException>(() => database.MigrateAsync("widgets", Migrations[..1]));
        Assert.Contains("schema version 2", error.Message);
    }

    [Fact]
    public async Task Sqlite_MigrateTwice_AppliesEachVersionOnce()
    {
        var folder = Directory.CreateTempSubdirectory("sluice-tenancy-");
        try
        {
            await using var database = TenancyDatabase.Open(Path.Combine(folder.FullName, "gateway.db"));
            Assert.Equal(TenancyProvider.Sqlite, database.Provider);
            await MigratesOnceAndKeepsData(database);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [SkippableFact]
    public async Task Postgres_MigrateTwice_AppliesEachVersionOnce()
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        await using var database = TenancyDatabase.Open(await postgres.CreateDatabaseAsync());
        Assert.Equal(TenancyProvider.Postgres, database.Provider);
        await MigratesOnceAndKeepsData(database);
    }

    [SkippableFact]
    public async Task Postgres_TwoProcessesMigratingAtOnce_ApplyEachVersionOnce()
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        string location = await postgres.CreateDatabaseAsync();
        await using var a = TenancyDatabase.Open(location);
        await using var b = TenancyDatabase.Open(location);
        await Task.WhenAll(a.MigrateAsync("widgets", Migrations), b.MigrateAsync("widgets", Migrations));
        await using var check = await a.OpenConnectionAsync();
        Assert.Equal(2, await TenancyDatabase.ScalarAsync(check, null, "SELECT COUNT(*) FROM sluice_schema WHERE component = 'widgets'", default));
    }

    [Fact]
    public async Task Sqlite_CorruptFile_FailsNamingTheFile()
    {
        var folder = Directory.CreateTempSubdirectory("sluice-tenancy-");
        try
        {
            string path = Path.Combine(folder.FullName, "gateway.db");
            await File.WriteAllBytesAsync(path, [.. Enumerable.Range(0, 8192).Select(i => (byte)(i * 31))]);
            await using var database = TenancyDatabase.Open(path);
            var error = await Assert.ThrowsAsync<TenancyStoreException>(() => database.MigrateAsync("widgets", Migrations));
            Assert.Contains(path, error.Message);
            Assert.Contains("not a SQLite database or is corrupt", error.Message);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void Open_SqliteFileInAMissingFolder_FailsNamingTheFolder()
    {
        var error = Assert.Throws<TenancyStoreException>(() => TenancyDatabase.Open("/nonexistent-folder-sluice/gateway.db"));
        Assert.Contains("/nonexistent-folder-sluice", error.Message);
    }

    [Fact]
    public void FromUrl_LiteLlmDatabaseUrl_BecomesAnNpgsqlConnectionString()
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(
            TenancyDatabase.FromUrl("postgresql://llm:p%40ss@db.example:6543/litellm?sslmode=require"));
        Assert.Equal("db.example", builder.Host);
        Assert.Equal(6543, builder.Port);
        Assert.Equal("litellm", builder.Database);
        Assert.Equal("llm", builder.Username);
        Assert.Equal("p@ss", builder.Password);
        Assert.Equal(Npgsql.SslMode.Require, builder.SslMode);
    }

    [Theory]
    [InlineData("postgresql://", "not a valid")]
    [InlineData("postgresql://u:secret@h/db?nosuchoption=1", "nosuchoption")]
    public void FromUrl_BadUrl_FailsWithoutShowingThePassword(string url, string expected)
    {
        var error = Assert.Throws<TenancyStoreException>(() => TenancyDatabase.Open(url));
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain("secret", error.Message);
    }

    [SkippableFact]
    public async Task Postgres_Unreachable_FailsNamingTheServer()
    {
        int port = DataServers.FreePort();
        await using var database = TenancyDatabase.Open($"Host=127.0.0.1;Port={port};Username=sluice;Timeout=2");
        var error = await Assert.ThrowsAsync<TenancyStoreException>(() => database.MigrateAsync("widgets", Migrations));
        Assert.Contains($"127.0.0.1:{port}", error.Message);
    }
}
