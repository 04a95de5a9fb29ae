using Microsoft.AspNetCore.Http;
using Sluice.Hosting.Metrics.Exposition;

namespace Sluice.Server.Metrics;

/// <summary>GET /metrics: Prometheus text format. Behind the API key unless --metrics-open.</summary>
internal sealed class MetricsEndpoint(ServerMetrics metrics)
{
    public const string Route = "/metrics";

    public Task HandleAsync(HttpContext http)
    {
        http.Response.ContentType = MetricRegistry.ContentType;
        http.Response.Headers.CacheControl = "no-store";
        return http.Response.WriteAsync(metrics.Render(), http.RequestAborted);
    }
}
