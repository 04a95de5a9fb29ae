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

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (router.Snapshot.Config.Tenancy is not { Spend.Enabled: true } tenancy || services.GetService<TenancyDatabase>() is not { } database)
        {
            return;
        }
        Store = new SpendStore(database);
        await Store.MigrateAsync(cancellationToken);
        var log = logs.CreateLogger<SpendService>();
        var writer = new SpendWriter(Store, tenancy.Spend.MaxBatch, log) { Recovered = rows => metrics.SpendWrites.Add(rows, "recovered") };
        metrics.SpendBacklog = () => writer.Backlog;
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

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Spend is recorded in {Store}")]
    private static partial void LogOpened(ILogger log, string store);
}
