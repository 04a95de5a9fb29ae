using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sluice.Gateway.Tenancy.Storage;
using StackExchange.Redis;

namespace Sluice.Gateway.Tenancy.Keys;

/// <summary>
/// Keeps every replica's <see cref="KeyCache"/> current: a key written here is announced on the Redis channel
/// <see cref="Channel"/> (when Redis is configured) and every replica clears its cache on the message; as the fallback
/// (Redis down, a message lost, no Redis at all) each replica polls the store's change counter every
/// <see cref="PollInterval"/>. Either way a revocation or rotation is seen everywhere within a second.
/// </summary>
public sealed partial class KeyChangeListener(KeyCache cache, TenancyFailures failures, ILogger<KeyChangeListener> log, TenancyRedis? redis = null) : BackgroundService
{
    public static readonly RedisChannel Channel = RedisChannel.Literal("sluice:keys:changed");

    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Called after a key was written: clears this replica's cache at once and tells the others.</summary>
    public async Task AnnounceAsync(string keyId)
    {
        cache.Clear();
        if (redis is null)
        {
            return;
        }
        try
        {
            await redis.Connection.GetSubscriber().PublishAsync(Channel, keyId);
        }
        catch (Exception e) when (TenancyRedis.IsUnreachable(e))
        {
            LogAnnounceFailed(log, keyId, e.Message); // the others see the change counter move instead
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (redis is not null)
        {
            try
            {
                await redis.Connection.GetSubscriber().SubscribeAsync(Channel, (_, _) => cache.Clear());
            }
            catch (Exception e) when (TenancyRedis.IsUnreachable(e))
            {
                LogAnnounceFailed(log, "-", e.Message); // StackExchange.Redis subscribes again when it reconnects
            }
        }
        long? version = null;
        using var timer = new PeriodicTimer(PollInterval);
        do
        {
            try
            {
                long now = await cache.Store.VersionAsync(stoppingToken);
                if (version != now)
                {
                    cache.Clear();
                    version = now;
                }
                cache.Confirm();
            }
            catch (TenancyStoreException e)
            {
                failures.Failed("database", $"key store ({cache.Store.Database.Description})", e.InnerException?.Message ?? e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(EventId = 402, Level = LogLevel.Warning, Message = "Key change of {KeyId} not announced on Redis ({Reason}); replicas see it by polling")]
    private static partial void LogAnnounceFailed(ILogger log, string keyId, string reason);
}
