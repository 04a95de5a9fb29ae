using Microsoft.Extensions.Logging;
using Sluice.Gateway.Observability;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tenancy;

/// <summary>
/// A tenancy store (the database or Redis) could not be reached: counted (<c>sluice_gateway_tenancy_store_errors_total</c>),
/// logged (at most once a second per store, so an outage under load does not flood the log), then refused (fail_mode
/// closed: a 503 naming the store) or let through (open).
/// </summary>
public sealed partial class TenancyFailures(TenancySettings settings, GatewayMetrics metrics, TimeProvider time, ILogger<TenancyFailures> log)
{
    private long _lastDatabaseLog = long.MinValue;
    private long _lastRedisLog = long.MinValue;

    public FailMode Mode => settings.FailMode;

    /// <summary>Counts and logs the failure; returns the 503 to throw under fail_mode closed (its code <paramref name="code"/>, by
    /// default redis_unavailable or key_store_unavailable), or null under open.</summary>
    public ApiException? Failed(string store, string what, string reason, string? code = null)
    {
        string mode = settings.FailMode == FailMode.Open ? "open" : "closed";
        metrics.StoreErrors.Increment(store, mode);
        ref long last = ref store == "redis" ? ref _lastRedisLog : ref _lastDatabaseLog;
        long now = time.GetTimestamp();
        long seen = Volatile.Read(ref last);
        if (seen == long.MinValue || time.GetElapsedTime(seen, now) >= TimeSpan.FromSeconds(1))
        {
            if (Interlocked.CompareExchange(ref last, now, seen) == seen)
            {
                LogStoreFailed(log, store, what, reason, mode);
            }
        }
        return settings.FailMode == FailMode.Open ? null
            : new ApiException(503, $"The gateway cannot reach its {what} ({reason}); refusing the request (tenancy.fail_mode: closed).", "server_error",
                code ?? (store == "redis" ? "redis_unavailable" : "key_store_unavailable"), AdmissionRejection.NotReady)
            { RetryAfterSeconds = 1 };
    }

    [LoggerMessage(EventId = 401, Level = LogLevel.Error, Message = "Tenancy {Store} unreachable: {What}: {Reason} (fail_mode {Mode})")]
    private static partial void LogStoreFailed(ILogger log, string store, string what, string reason, string mode);
}
