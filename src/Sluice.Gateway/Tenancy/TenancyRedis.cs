using StackExchange.Redis;

namespace Sluice.Gateway.Tenancy;

/// <summary>
/// The Redis every replica shares (tenancy.redis): fleet-wide counters and key invalidations. Connected at start without
/// waiting (abortConnect=false): a Redis that is down at start or goes away later is a failure per call, handled by the
/// fail mode, and StackExchange.Redis reconnects on its own when it comes back.
/// </summary>
public sealed class TenancyRedis : IAsyncDisposable
{
    private TenancyRedis(ConnectionMultiplexer connection, string description)
    {
        Connection = connection;
        Description = description;
    }

    public ConnectionMultiplexer Connection { get; }

    /// <summary>"Redis 127.0.0.1:6379", never a password.</summary>
    public string Description { get; }

    public IDatabase Database => Connection.GetDatabase();

    public static TenancyRedis Connect(string configuration)
    {
        ConfigurationOptions options;
        try
        {
            options = ConfigurationOptions.Parse(configuration);
        }
        catch (ArgumentException e)
        {
            throw new Storage.TenancyStoreException($"tenancy.redis: not a Redis configuration ({e.Message})", e);
        }
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.SyncTimeout = 2000;
        options.AsyncTimeout = 2000;
        options.ConnectRetry = 1;
        string where = "Redis " + string.Join(",", options.EndPoints.Select(e => e.ToString()));
        return new TenancyRedis(ConnectionMultiplexer.Connect(options), where);
    }

    /// <summary>Whether <paramref name="e"/> means Redis could not be reached or did not answer in time.</summary>
    public static bool IsUnreachable(Exception e) => e is RedisConnectionException or RedisTimeoutException or TimeoutException
        || (e is RedisServerException server && server.Message.StartsWith("LOADING", StringComparison.Ordinal));

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
