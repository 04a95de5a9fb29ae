using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Routing;
using Sluice.Gateway.Tenancy.Storage;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// Migrates the spend tables in the tenancy database at start (a store that cannot be reached fails the start,
/// naming it), runs the group-commit writer, and on stop, once the drain let in-flight requests finish, writes what is
/// still queued and what was retained while the database was away (trying for 5 s) before the process exits.
/// </summary>
public sealed partial class SpendService(Router router, UsageRecorder recorder, GatewayDrain drain, GatewayOptions options, GatewayMetrics metrics,
    IServiceProvider services, ILoggerFactory logs) : IHostedService
{
    public SpendStore? Store { get; private set; }

    /// <summary>Waits until the rows recorded so far are in the database (journaled rows commit in the background), so a spend query sees them.</summary>
    public Task FlushAsync() => recorder.Writer?.FlushAsync() ?? Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (router.Snapshot.Config.Tenancy is not { Spend.Enabled: true } tenancy || services.GetService<TenancyDatabase>() is not { } database)
        {
            return;
        }
        Store = new SpendStore(database);
        await Store.MigrateAsync(cancellationToken);
        var log = logs.CreateLogger<SpendService>();
        SpendJournal? journal = null;
        if (!tenancy.Spend.JournalOff)
        {
            string root = tenancy.Spend.Journal ?? SpendJournal.DefaultFolder(database.Description, database.FilePath);
            journal = SpendJournal.Open(root, database.Description, log);
            await ReplayAsync(journal, Store, tenancy.Spend.MaxBatch, log, cancellationToken);
        }
        var writer = new SpendWriter(Store, tenancy.Spend.MaxBatch, log, journal)
        {
            Recovered = rows => metrics.SpendWrites.Add(rows, "recovered"),
            RetainedRows = rows => metrics.SpendWrites.Add(rows, "retained"),
            CommittedRows = rows => metrics.SpendWrites.Add(rows, "ok"),
        };
        metrics.SpendBacklog = () => writer.Backlog;
        metrics.SpendJournalRows = () => journal?.Pending ?? 0;
        recorder.Failures = services.GetService<TenancyFailures>();
        recorder.Writer = writer;
        LogOpened(log, database.Description);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (recorder.Writer is { } writer)
        {
            await drain.WaitForIdleAsync(options.Hosting.ShutdownTimeout);
            int lost = await writer.StopAsync(TimeSpan.FromSeconds(5));
            if (lost > 0)
            {
                metrics.SpendWrites.Add(lost, "failed");
            }
        }
    }

    /// <summary>
    /// Writes the rows of the journal folders no live gateway holds (a gateway killed, or stopped while the database was
    /// away) to the database, idempotently by row id, then deletes them: before this gateway records anything, so its
    /// budget counters are seeded from a spend log that has them.
    /// </summary>
    internal static async Task<int> ReplayAsync(SpendJournal journal, SpendStore store, int maxBatch, ILogger log, CancellationToken cancellationToken)
    {
        int replayed = 0;
        foreach (var orphan in journal.Orphans(store.Database.Description))
        {
            using (orphan)
            {
                if (orphan.Torn > 0)
                {
                    LogTorn(log, orphan.Folder, orphan.Torn);
                }
                foreach (var chunk in orphan.Rows.Chunk(maxBatch))
                {
                    await store.WriteAsync(chunk, cancellationToken);
                }
                orphan.Delete();
                replayed += orphan.Rows.Count;
                LogReplayed(log, orphan.Rows.Count, orphan.Folder);
            }
        }
        return replayed;
    }

    [LoggerMessage(EventId = 511, Level = LogLevel.Warning, Message = "Spend journal {Folder}: {Rows} rows of a gateway that did not drain written to the database (rows already there left as they are)")]
    private static partial void LogReplayed(ILogger log, int rows, string folder);

    [LoggerMessage(EventId = 512, Level = LogLevel.Warning,
        Message = "Spend journal {Folder}: {Segments} segments ended in a torn line (a write cut short by a crash, its response never ended): skipped")]
    private static partial void LogTorn(ILogger log, string folder, int segments);

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Spend is recorded in {Store}")]
    private static partial void LogOpened(ILogger log, string store);
}
