using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Teams;

/// <summary><see cref="TeamBehaviour"/> on the default store: a SQLite file, counters in the process.</summary>
public sealed class SqliteTeamTests : TeamBehaviour, IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("sluice-teams-");

    protected override Task<string> DatabaseAsync() => Task.FromResult(Path.Combine(_folder.FullName, "gateway.db"));

    public void Dispose() => _folder.Delete(recursive: true);
}

/// <summary><see cref="TeamBehaviour"/> on PostgreSQL (a database per test), counters in the process.</summary>
[Collection(TenancyCollection.Name)]
public sealed class PostgresTeamTests(TenancyServers servers) : TeamBehaviour
{
    protected override async Task<string> DatabaseAsync() => await (await servers.PostgresAsync()).CreateDatabaseAsync();
}

/// <summary><see cref="TeamBehaviour"/> on PostgreSQL with the limits and budget counters in Redis.</summary>
[Collection(TenancyCollection.Name)]
public sealed class RedisTeamTests(TenancyServers servers) : TeamBehaviour
{
    protected override async Task<string> DatabaseAsync() => await (await servers.PostgresAsync()).CreateDatabaseAsync();

    protected override async Task<string?> RedisAsync() => (await servers.RedisAsync()).ConnectionString;
}
