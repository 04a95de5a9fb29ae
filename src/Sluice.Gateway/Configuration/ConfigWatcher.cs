using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Routing;
using Sluice.Hosting.Files;

namespace Sluice.Gateway.Configuration;

/// <summary>
/// Watches the config file (the hosting layer's <see cref="FileWatch"/>, looked at every reload interval) and puts a
/// changed file in service in one swap. A file that does not validate is rejected with one log line naming the error,
/// once per change, and the routing in service stays; requests and streams already routed are never touched.
/// </summary>
internal sealed partial class ConfigWatcher(Router router, GatewayOptions options, GatewayMetrics metrics, ILogger<ConfigWatcher> log) : BackgroundService
{
    /// <summary>The tenancy and master key the gateway started with: a reload cannot change them (a restart can).</summary>
    public (Tenancy.TenancySettings? Tenancy, string? MasterKey, Caching.CacheSettings? Cache) Started { get; set; }

    private readonly FileWatch _watch = new([options.ConfigPath], options.Hosting.Time, TimeSpan.Zero);
    private FileStamp? _rejected;

    /// <summary>Looks at the file now; true when a new configuration went into service.</summary>
    public bool CheckNow()
    {
        lock (_watch)
        {
            if (!_watch.TryGetChange(out var stamp, force: true) || stamp.Equals(_rejected))
            {
                return false;
            }
            try
            {
                var config = GatewayConfigReader.ReadFile(options.ConfigPath);
                if (config.Tenancy != Started.Tenancy || config.MasterKey != Started.MasterKey)
                {
                    throw new GatewayConfigException($"{options.ConfigPath}: the tenancy section (or general_settings' master_key or database_url) changed: restart the gateway to apply it");
                }
                if (config.Cache != Started.Cache)
                {
                    throw new GatewayConfigException($"{options.ConfigPath}: the cache section (or litellm_settings' cache) changed: restart the gateway to apply it");
                }
                router.Apply(config, "file", "file:" + options.ConfigPath);
                _watch.Accept(stamp);
                _rejected = null;
                metrics.Reloads.Increment("ok");
                LogReloaded(log, options.ConfigPath);
                return true;
            }
            catch (GatewayConfigException ex)
            {
                _rejected = stamp;
                metrics.Reloads.Increment("rejected");
                LogRejected(log, ex.Message);
                return false;
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.ReloadInterval, options.Hosting.Time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            CheckNow();
        }
    }

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Configuration reloaded from {Path}")]
    private static partial void LogReloaded(ILogger log, string path);

    [LoggerMessage(EventId = 202, Level = LogLevel.Error, Message = "Configuration rejected, the routing in service stays: {Error}")]
    private static partial void LogRejected(ILogger log, string error);
}
