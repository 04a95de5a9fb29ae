using Sluice.Gateway.Tests.Support;
using StackExchange.Redis;

namespace Sluice.Gateway.Tests.Tenancy;

/// <summary>The test command's own Redis and PostgreSQL: they start, answer, and come back after a kill.</summary>
public sealed class DataServersTests
{
    [SkippableFact]
    public async Task Redis_StartedKilledAndRestarted_AnswersAgainOnTheSamePort()
    {
        await using var redis = await RedisServer.StartNewAsync();
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
        {
            Assert.True(await connection.GetDatabase().StringSetAsync("k", "v"));
            Assert.Equal("v", (string?)await connection.GetDatabase().StringGetAsync("k"));
        }
        redis.Stop();
        await redis.StartAsync();
        await using var again = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        Assert.Equal(RedisValue.Null, await again.GetDatabase().StringGetAsync("k"));
    }

    [SkippableFact]
    public async Task Postgres_CreateDatabase_GivesAnEmptyDatabaseThatSurvivesARestart()
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        string database = await postgres.CreateDatabaseAsync();
        await using (var connection = new Npgsql.NpgsqlConnection(database))
        {
            await connection.OpenAsync();
            await using var create = new Npgsql.NpgsqlCommand("CREATE TABLE t (v int); INSERT INTO t VALUES (42)", connection);
            await create.ExecuteNonQueryAsync();
        }
        postgres.Stop();
        await Task.Delay(200);
        await postgres.StartAsync();
        Npgsql.NpgsqlConnection.ClearAllPools();
        await using var reopened = new Npgsql.NpgsqlConnection(database);
        await reopened.OpenAsync();
        await using var read = new Npgsql.NpgsqlCommand("SELECT v FROM t", reopened);
        Assert.Equal(42, (int)(await read.ExecuteScalarAsync())!);
    }
}
