using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Hosting.Diagnostics;
using Sluice.Hosting.Logging;
using Sluice.Hosting.Tracing;
using Sluice.Server.Hosting;
using Sluice.Server.Metrics;
using Sluice.Server.Observability.Logging;
using Sluice.Server.Observability.Memory;
using Sluice.Server.Observability.Tracing;

namespace Sluice.Server.Observability;

/// <summary>
/// Puts metrics (GET /metrics), per-request logs, traces, GET /debug/memory, POST /admin/gc, GET /debug/heap and
/// GET /debug/trace on a server
/// through its <see cref="ServerHooks"/>. Every route stays behind the API key unless opened (--open-path,
/// --metrics-open).
/// </summary>
public static class SluiceObservability
{
    public static ServerHooks Hooks(ObservabilityOptions options) => new()
    {
        Logging = options.LogFormat == LogFormat.Json
            ? logging => logging.AddJsonLines(options.LogOutput ?? Console.Out, TimeProvider.System)
            : null,
        Services = s =>
        {
            s.AddSingleton(sp => new ServerMetrics(sp.GetRequiredService<ServingContext>(), options.Metrics, sp.GetService<Sluice.Hosting.Tls.CertificateReloader>()));
            s.AddSingleton<MetricsEndpoint>();
            s.AddSingleton<RequestLog>();
            s.AddSingleton<MemoryEndpoints>();
            s.AddSingleton<StageTracer>();
            s.AddSingleton(new ProcessDiagnostics(options.Diagnostics));
            if (options.OtlpTracesEndpoint is { } endpoint)
            {
                s.AddSluiceTracing(endpoint, options.TraceExportInterval, RequestTracer.SourceName);
                s.AddSingleton<RequestTracer>();
            }
        },
        Routes = routes =>
        {
            var sp = routes.ServiceProvider;
            sp.GetRequiredService<RequestLog>(); // subscribes to every finished request
            sp.GetRequiredService<StageTracer>(); // stage spans, for OTLP or any in-process ActivityListener
            if (options.OtlpTracesEndpoint is not null)
            {
                sp.StartSluiceTracing();
                sp.GetRequiredService<RequestTracer>();
            }
            routes.MapGet(MetricsEndpoint.Route, sp.GetRequiredService<MetricsEndpoint>().HandleAsync);
            var memory = sp.GetRequiredService<MemoryEndpoints>();
            routes.MapGet("/debug/memory", memory.MemoryAsync);
            routes.MapPost("/admin/gc", memory.CollectAsync);
            ProcessDiagnostics.Map(routes, sp.GetRequiredService<ProcessDiagnostics>());
        },
    };
}
