using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sluice.Gateway.Configuration;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Routing;
using Sluice.Gateway.Tenancy.Storage;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// Opens the tenancy database and migrates the spend tables at start (a store that cannot be opened fails the start,
/// naming it), runs the group-commit writer, and on stop, once the drain let in-flight requests finish, writes what is
/// still queued before the process exits.
/// </summary>
public sealed partial class SpendService(Router router, UsageRecorder recorder, GatewayDrain drain, GatewayOptions options, ILoggerFactory logs) : IHostedService
{
    private TenancyDatabase? _database;

    public SpendStore? Store { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (router.Snapshot.Config.Tenancy is not { Spend.Enabled: true } tenancy)
        {
            return;
        }
        _database = TenancyDatabase.Open(DatabaseLocation(tenancy, options.ConfigPath));
        Store = new SpendStore(_database);
        await Store.MigrateAsync(cancellationToken);
        var log = logs.CreateLogger<SpendService>();
        recorder.Writer = new SpendWriter(Store, tenancy.Spend.MaxBatch, log);
        LogOpened(log, _database.Description);
    }

    /// <summary>tenancy.database, or gateway.db beside the config file.</summary>
    public static string DatabaseLocation(TenancySettings tenancy, string configPath) =>
        tenancy.Database ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(configPath)) ?? ".", "gateway.db");

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (recorder.Writer is { } writer)
        {
            await drain.WaitForIdleAsync(options.Hosting.ShutdownTimeout);
            await writer.DisposeAsync();
        }
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Spend is recorded in {Store}")]
    private static partial void LogOpened(ILogger log, string store);
}
