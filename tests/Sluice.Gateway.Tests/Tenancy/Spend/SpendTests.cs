using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Spend;

/// <summary><see cref="SpendBehaviour"/> on the default store: a SQLite file.</summary>
public sealed class SqliteSpendTests : SpendBehaviour, IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("sluice-spend-");

    protected override Task<string> DatabaseAsync() => Task.FromResult(Path.Combine(_folder.FullName, "gateway.db"));

    public void Dispose() => _folder.Delete(recursive: true);
}

/// <summary><see cref="SpendBehaviour"/> on PostgreSQL (a real server from Debian's package; a database per test).</summary>
public sealed class PostgresSpendTests(PostgresServer postgres) : SpendBehaviour, IClassFixture<PostgresServer>
{
    protected override Task<string> DatabaseAsync() => postgres.CreateDatabaseAsync();
}
