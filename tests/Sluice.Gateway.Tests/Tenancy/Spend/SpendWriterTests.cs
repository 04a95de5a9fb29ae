using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Gateway.Tenancy.Spend;
using Sluice.Gateway.Tenancy.Storage;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Spend;

/// <summary>
/// The group-commit writer on real stores: concurrent rows share commits (what arrived during one commit goes in the
/// next, no timer), every row lands once, and a store that fails makes later rows fail at once while retained rows are
/// written as soon as it is back. Also the worst-case prompt estimate budgets reserve.
/// </summary>
public sealed class SpendWriterTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    private static UsageRecord Row(int i) => new()
    {
        RowId = Guid.NewGuid().ToString("N"),
        RequestId = $"w-{i}",
        KeyId = "key_writer",
        Model = "m",
        PromptTokens = 1,
        CompletionTokens = 2,
        SpendPico = 7,
        Status = 200,
        Start = DateTimeOffset.UtcNow,
        End = DateTimeOffset.UtcNow,
    };

    private static async Task<long> CountAsync(TenancyDatabase database)
    {
        await using var connection = await database.OpenConnectionAsync();
        return await TenancyDatabase.ScalarAsync(connection, null, "SELECT COUNT(DISTINCT request_id) FROM spend_log", default);
    }

    private static async Task ConcurrentRowsShareCommitsAsync(TenancyDatabase database)
    {
        var store = new SpendStore(database);
        await store.MigrateAsync();
        await using var writer = new SpendWriter(store, 512, NullLogger.Instance);
        await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(() => writer.WriteAsync(Row(i)))));

        Assert.Equal(400, await CountAsync(database));
        Assert.True(writer.Batches < 400, $"{writer.Batches} commits for 400 rows: nothing was grouped");
        var (pico, tokens) = await store.KeyTotalsAsync("key_writer", DateTimeOffset.UnixEpoch);
        Assert.Equal((400 * 7, 400 * 3), (pico, tokens));
    }

    [SkippableFact]
    public async Task Sqlite_ConcurrentRows_ShareCommitsAndAllLandOnce()
    {
        var folder = Directory.CreateTempSubdirectory("sluice-writer-");
        try
        {
            await using var database = TenancyDatabase.Open(Path.Combine(folder.FullName, "gateway.db"));
            await ConcurrentRowsShareCommitsAsync(database);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [SkippableFact]
    public async Task Postgres_ConcurrentRows_ShareCommitsAndAllLandOnce()
    {
        await using var database = TenancyDatabase.Open(await postgres.CreateDatabaseAsync());
        await ConcurrentRowsShareCommitsAsync(database);
    }

    [SkippableFact]
    public async Task Postgres_StoppedThenBack_FailsFastWhileDownAndWritesTheRetainedRows()
    {
        await using var own = await PostgresServer.StartNewAsync();
        await using var database = TenancyDatabase.Open(await own.CreateDatabaseAsync());
        var store = new SpendStore(database);
        await store.MigrateAsync();
        await using var writer = new SpendWriter(store, 512, NullLogger.Instance);
        await writer.WriteAsync(Row(0));

        own.Stop();
        await Task.Delay(300);
        var first = Row(1);
        await Assert.ThrowsAnyAsync<Exception>(() => writer.WriteAsync(first));
        Assert.NotNull(writer.Failing);
        writer.Retain(first);
        var second = Row(2);
        var failedFast = await Assert.ThrowsAsync<SpendLogUnavailableException>(() => writer.WriteAsync(second)); // no try while failing
        Assert.False(string.IsNullOrEmpty(failedFast.Message));
        writer.Retain(second);
        Assert.Equal(2, writer.Backlog);

        await own.StartAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((writer.Backlog > 0 || writer.Failing is not null) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Equal(0, writer.Backlog);
        Assert.Null(writer.Failing);
        Assert.Equal(3, await CountAsync(database));
        await writer.WriteAsync(Row(3));
        Assert.Equal(4, await CountAsync(database));
    }

    [SkippableFact]
    public async Task Postgres_RestartedBetweenBatches_NextBatchCommitsOnANewConnection()
    {
        // the writer keeps its connection (and its prepared INSERT) between batches: a server restarted while it was idle
        // breaks that connection, and the next batch must drop it and commit on a new one, not fail the row
        await using var own = await PostgresServer.StartNewAsync();
        await using var database = TenancyDatabase.Open(await own.CreateDatabaseAsync());
        var store = new SpendStore(database);
        await store.MigrateAsync();
        await using var writer = new SpendWriter(store, 512, NullLogger.Instance);
        await writer.WriteAsync(Row(0));
        await writer.WriteAsync(Row(1));

        own.Stop();
        await own.StartAsync();
        await writer.WriteAsync(Row(2));
        Assert.Null(writer.Failing);
        await writer.WriteAsync(Row(3));
        Assert.Equal(4, await CountAsync(database));
    }

    [Theory]
    [InlineData("""{"prompt": "x"}""", 1)]
    [InlineData("""{"prompt": ""}""", 0)]
    [InlineData("""{"prompt": "hello"}""", 3)]
    [InlineData("""{"prompt": [1, 2, 3, 4]}""", 4)]
    [InlineData("""{"prompt": ["abcd", "ab"]}""", 3)]
    [InlineData("""{"messages": [{"role": "user", "content": "abcd"}, {"role": "user", "content": [{"type": "text", "text": "ab"}]}]}""", 4 + 2 + 4 + 1)]
    public void WorstPromptTokens_TwoBytesATokenAtLeastOne_PlusFourPerMessage(string body, long expected) =>
        Assert.Equal(expected, BudgetGuard.WorstPromptTokens(JsonNode.Parse(body)!.AsObject()));
}
