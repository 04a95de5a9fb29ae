using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Gateway.Tenancy.Spend;
using Sluice.Gateway.Tenancy.Storage;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Spend;

/// <summary>
/// The local spend journal on real files and a real SQLite file (PostgreSQL where the database goes away): rows round
/// trip exactly; a dead gateway's folder is replayed once, idempotently; a torn last line is skipped, a corrupt line
/// elsewhere stops the start naming the file and line; a live gateway's folder and another database's are left alone;
/// the writer commits journaled rows in the background, deletes what committed, and on drain either commits the rest or
/// keeps it for the next start.
/// </summary>
public sealed class SpendJournalTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("sluice-journal-");

    public void Dispose() => _folder.Delete(recursive: true);

    private string Root => Path.Combine(_folder.FullName, "journal");

    private static UsageRecord Row(int i) => new()
    {
        RowId = Guid.NewGuid().ToString("N"),
        RequestId = $"j-{i}",
        KeyId = i % 2 == 0 ? "key_j" : null,
        Team = "team \"quoted\"\n",
        Model = "m",
        Backend = "127.0.0.1:1",
        PromptTokens = 3,
        CompletionTokens = 5,
        SpendPico = 1_000_000_007,
        Streamed = i % 2 == 1,
        Counted = true,
        Status = 200,
        Start = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000 + i),
        End = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_100 + i),
    };

    private async Task<(TenancyDatabase Database, SpendStore Store)> SqliteAsync()
    {
        var database = TenancyDatabase.Open(Path.Combine(_folder.FullName, "gateway.db"));
        var store = new SpendStore(database);
        await store.MigrateAsync();
        return (database, store);
    }

    private static async Task<long> CountAsync(TenancyDatabase database)
    {
        await using var connection = await database.OpenConnectionAsync();
        return await TenancyDatabase.ScalarAsync(connection, null, "SELECT COUNT(*) FROM spend_log", default);
    }

    /// <summary>A journal folder as a killed gateway leaves it: rows appended, nothing closed or committed.</summary>
    private string Killed(string target, IEnumerable<UsageRecord> rows)
    {
        var journal = SpendJournal.Open(Root, target, NullLogger.Instance);
        foreach (var row in rows)
        {
            journal.Append(row);
        }
        journal.Dispose(); // the lock goes as it does when the process dies; the files stay
        return journal.Folder;
    }

    [Fact]
    public void Format_ThenParse_EveryFieldRoundTripsExactly()
    {
        foreach (int i in new[] { 0, 1 })
        {
            var row = Row(i);
            byte[] line = SpendJournal.Format(row);
            Assert.Equal((byte)'\n', line[^1]);
            Assert.Single(line, b => b == (byte)'\n'); // one line, even with a newline in a field
            Assert.Equal(row, SpendJournal.Parse(line.AsSpan(0, line.Length - 1)));
        }
    }

    [Fact]
    public async Task Replay_DeadGatewaysJournal_WritesEveryRowOnceAndDeletesIt()
    {
        var (database, store) = await SqliteAsync();
        await using var _ = database;
        var rows = Enumerable.Range(0, 50).Select(Row).ToList();
        string dead = Killed(database.Description, rows);
        await store.WriteAsync(rows[..10]); // some had committed before the kill

        using var journal = SpendJournal.Open(Root, database.Description, NullLogger.Instance);
        Assert.Equal(50, await SpendService.ReplayAsync(journal, store, 16, NullLogger.Instance, default));

        Assert.Equal(50, await CountAsync(database));
        Assert.False(Directory.Exists(dead));
        Assert.Equal(rows[7], Assert.Single(await store.LogsAsync("j-7", null, null, null, 10)));
        Assert.Equal(0, await SpendService.ReplayAsync(journal, store, 16, NullLogger.Instance, default)); // nothing left to replay
    }

    [Fact]
    public async Task Replay_SameRowsTwice_EachRowWrittenOnce()
    {
        var (database, store) = await SqliteAsync();
        await using var _ = database;
        var rows = Enumerable.Range(0, 20).Select(Row).ToList();
        Killed(database.Description, rows);
        Killed(database.Description, rows); // a replay that wrote its rows but died before deleting its folder, say

        using var journal = SpendJournal.Open(Root, database.Description, NullLogger.Instance);
        Assert.Equal(40, await SpendService.ReplayAsync(journal, store, 512, NullLogger.Instance, default));
        Assert.Equal(20, await CountAsync(database));
    }

    [Fact]
    public async Task Replay_TornLastLine_SkippedAndTheOtherRowsWritten()
    {
        var (database, store) = await SqliteAsync();
        await using var _ = database;
        string dead = Killed(database.Description, Enumerable.Range(0, 3).Select(Row));
        string segment = Directory.GetFiles(dead, "*.jsonl").Single();
        byte[] torn = SpendJournal.Format(Row(3));
        await File.AppendAllTextAsync(segment, System.Text.Encoding.UTF8.GetString(torn, 0, torn.Length / 2));

        using var journal = SpendJournal.Open(Root, database.Description, NullLogger.Instance);
        var orphan = Assert.Single(journal.Orphans(database.Description));
        Assert.Equal(1, orphan.Torn);
        orphan.Dispose();
        Assert.Equal(3, await SpendService.ReplayAsync(journal, store, 512, NullLogger.Instance, default));
        Assert.Equal(3, await CountAsync(database));
        Assert.Empty(await store.LogsAsync("j-3", null, null, null, 10));
    }

    [Fact]
    public async Task Replay_CorruptLineBeforeTheLast_FailsNamingTheFileAndLineAndWritesNothing()
    {
        var (database, store) = await SqliteAsync();
        await using var _ = database;
        string dead = Killed(database.Description, Enumerable.Range(0, 3).Select(Row));
        string segment = Directory.GetFiles(dead, "*.jsonl").Single();
        var lines = (await File.ReadAllLinesAsync(segment)).ToList();
        lines[1] = "{\"row\": garbage";
        await File.WriteAllTextAsync(segment, string.Join('\n', lines) + "\n");

        using var journal = SpendJournal.Open(Root, database.Description, NullLogger.Instance);
        var e = await Assert.ThrowsAsync<SpendJournalException>(() => SpendService.ReplayAsync(journal, store, 512, NullLogger.Instance, default));
        Assert.Contains(segment, e.Message, StringComparison.Ordinal);
        Assert.Contains("line 2", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync(database));
        Assert.True(File.Exists(segment)); // kept for the operator
    }

    [Fact]
    public async Task Orphans_LiveGatewaysAnotherDatabasesAndUnrelatedFolders_LeftAlone()
    {
        var (database, store) = await SqliteAsync();
        await using var _ = database;
        using var live = SpendJournal.Open(Root, database.Description, NullLogger.Instance);
        live.Append(Row(0));
        string other = Killed("PostgreSQL elsewhere:5432/other", [Row(1)]);
        string unrelated = Path.Combine(Root, "backups");
        Directory.CreateDirectory(unrelated); // journal: pointed at a folder that holds other things too
        await File.WriteAllTextAsync(Path.Combine(unrelated, "keep.txt"), "mine");

        using var journal = SpendJournal.Open(Root, database.Description, NullLogger.Instance);
        Assert.Equal(0, await SpendService.ReplayAsync(journal, store, 512, NullLogger.Instance, default));
        Assert.True(Directory.Exists(live.Folder));
        Assert.True(Directory.Exists(other));
        Assert.True(File.Exists(Path.Combine(unrelated, "keep.txt")));
        Assert.Equal(0, await CountAsync(database));
    }

    [Fact]
    public async Task Writer_JournalOn_ReturnsBeforeTheCommitThenCommitsSettlesAndDeletesOnDrain()
    {
        var (database, store) = await SqliteAsync();
        await using var _ = database;
        var journal = SpendJournal.Open(Root, database.Description, NullLogger.Instance);
        var writer = new SpendWriter(store, 64, NullLogger.Instance, journal);
        int settled = 0;
        await Task.WhenAll(Enumerable.Range(0, 300).Select(i => Task.Run(() => writer.WriteAsync(Row(i), () =>
        {
            Interlocked.Increment(ref settled);
            return Task.CompletedTask;
        }))));
        await writer.FlushAsync();
        Assert.Equal(300, await CountAsync(database));
        Assert.Equal(0, journal.Pending);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref settled) < 300 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal(300, Volatile.Read(ref settled));

        await writer.WriteAsync(Row(300));
        Assert.Equal(0, await writer.StopAsync(TimeSpan.FromSeconds(5))); // drain: the queued row is committed
        Assert.Equal(301, await CountAsync(database));
        Assert.False(Directory.Exists(journal.Folder));
    }

    [SkippableFact]
    public async Task Writer_PostgresDownAtDrain_RowsStayInTheJournalAndTheNextStartWritesThem()
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        await using var database = TenancyDatabase.Open(await postgres.CreateDatabaseAsync());
        var store = new SpendStore(database);
        await store.MigrateAsync();
        var journal = SpendJournal.Open(Root, database.Description, NullLogger.Instance);
        var writer = new SpendWriter(store, 64, NullLogger.Instance, journal);
        await writer.WriteAsync(Row(0));
        await writer.FlushAsync();

        postgres.Stop();
        await Task.Delay(300);
        for (int i = 1; i <= 5; i++)
        {
            await writer.WriteAsync(Row(i)); // journaled: the response need not wait for the database
        }
        await writer.FlushAsync();
        Assert.NotNull(writer.Failing);
        Assert.Equal(0, await writer.StopAsync(TimeSpan.FromMilliseconds(200)));
        Assert.True(Directory.Exists(journal.Folder));

        await postgres.StartAsync();
        using var next = SpendJournal.Open(Root, database.Description, NullLogger.Instance);
        Assert.Equal(6, await SpendService.ReplayAsync(next, store, 512, NullLogger.Instance, default)); // the first row again: left as it is
        Assert.Equal(6, await CountAsync(database));
        Assert.False(Directory.Exists(journal.Folder));
    }

    [Fact]
    public async Task Journal_SegmentFull_RotatesAndDeletesTheOldOneOnceCommitted()
    {
        var (database, _) = await SqliteAsync();
        await using var __ = database;
        using var journal = SpendJournal.Open(Root, database.Description, NullLogger.Instance);
        int perRow = SpendJournal.Format(Row(0)).Length;
        int rows = (int)(SpendJournal.SegmentBytes / perRow) + 2;
        var segments = Enumerable.Range(0, rows).Select(i => journal.Append(Row(i))).ToList();
        Assert.Equal([1L, 2L], segments.Distinct().Order());
        Assert.Equal(2, Directory.GetFiles(journal.Folder, "*.jsonl").Length);
        foreach (var group in segments.GroupBy(s => s))
        {
            journal.Committed(group.Key, group.Count());
        }
        Assert.Single(Directory.GetFiles(journal.Folder, "*.jsonl")); // the one being written stays
        Assert.Equal(0, journal.Pending);
    }
}
